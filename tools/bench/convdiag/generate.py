#!/usr/bin/python3
"""Trains the convdiag corpus: small real PyTorch runs on scikit-learn's bundled datasets and on
synthetic sequences, written as the logs people have (Lightning CSV, Keras CSV, JSON Lines,
hand-made CSV), with the condition each run was meant to show.

    /usr/bin/python3 tools/bench/convdiag/generate.py --out DIR [--first N] [--jobs N] [--only REGEX] [--list]

Writes DIR/runs/<file> for every run and DIR/generated.json (the runs' configurations, the
intended conditions and onsets, the chance level, the generation time). Every random draw is
seeded from the run's configuration; with the same torch version the logs are identical. One
thread (torch.set_num_threads(1)); docs/benchmarks.md gives the time it takes.
"""
import argparse
import csv
import hashlib
import io
import json
import math
import multiprocessing
import os
import random
import re
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn import datasets as skd

torch.set_num_threads(1)


def stable_int(*parts):
    h = hashlib.sha256("/".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(h[:4], "little")


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------

def _standardise(a):
    s = a.std(0)
    s[s == 0] = 1.0
    return (a - a.mean(0)) / s


def load_data(d, seed):
    """d: the run's data configuration. Returns a dict of float32/int64 tensors and facts."""
    name = d["name"]
    rs = np.random.RandomState(seed)
    task = "cls"
    seq = False
    if name == "digits":
        X, y = skd.load_digits(return_X_y=True)
    elif name == "iris":
        X, y = skd.load_iris(return_X_y=True)
    elif name == "wine":
        X, y = skd.load_wine(return_X_y=True)
    elif name == "breast_cancer":
        X, y = skd.load_breast_cancer(return_X_y=True)
    elif name == "diabetes":
        X, y = skd.load_diabetes(return_X_y=True)
        task = "reg"
    elif name == "moons":
        X, y = skd.make_moons(n_samples=d.get("n", 1000), noise=d.get("noise", 0.25), random_state=seed % 1000)
    elif name == "classification":
        X, y = skd.make_classification(n_samples=d.get("n", 1000), n_features=20, n_informative=6,
                                       n_redundant=4, n_classes=d.get("classes", 3),
                                       class_sep=d.get("sep", 1.0), flip_y=d.get("flip", 0.02),
                                       random_state=seed % 1000)
    elif name == "regression":
        X, y = skd.make_regression(n_samples=d.get("n", 1000), n_features=10, n_informative=8,
                                   noise=d.get("noise", 5.0), random_state=seed % 1000)
        task = "reg"
    elif name.startswith("seq_"):
        return load_sequences(d, seed)
    else:
        raise ValueError(name)
    X = X.astype(np.float64)
    y = y.astype(np.float64 if task == "reg" else np.int64)
    if task == "reg" and d.get("nonlinear"):
        y = y + 0.02 * (y ** 2) / max(1.0, np.abs(y).mean())
    perm = rs.permutation(len(X))
    n_val = max(int(round(len(X) * 0.2)), 20)
    va, tr = perm[:n_val], perm[n_val:]
    if d.get("n_train"):
        tr = tr[: d["n_train"]]
    Xtr, ytr, Xva, yva = X[tr], y[tr].copy(), X[va], y[va]
    if not d.get("raw_x"):
        mu, sd = Xtr.mean(0), Xtr.std(0)
        sd[sd == 0] = 1.0
        Xtr, Xva = (Xtr - mu) / sd, (Xva - mu) / sd
    if d.get("scale_features"):         # half the features in units 30x larger
        half = Xtr.shape[1] // 2
        Xtr[:, half:] *= 30.0
        Xva[:, half:] *= 30.0
    if task == "reg" and not d.get("raw_y"):
        mu, sd = ytr.mean(), ytr.std()
        ytr, yva = (ytr - mu) / sd, (yva - mu) / sd
    classes = int(y.max()) + 1 if task == "cls" else 0
    if task == "cls" and d.get("label_noise"):
        k = int(round(d["label_noise"] * len(ytr)))
        idx = rs.choice(len(ytr), k, replace=False)
        ytr[idx] = (ytr[idx] + rs.randint(1, classes, size=k)) % classes
    if task == "reg" and d.get("outliers"):
        idx = rs.choice(len(ytr), d["outliers"], replace=False)
        ytr[idx] = ytr[idx] * d.get("outlier_scale", 40.0) + np.sign(ytr[idx] + 1e-9) * d.get("outlier_scale", 40.0)
    out = {
        "task": task, "seq": False, "classes": classes,
        "Xtr": torch.tensor(Xtr, dtype=torch.float32), "Xva": torch.tensor(Xva, dtype=torch.float32),
        "ytr": torch.tensor(ytr, dtype=torch.float32 if task == "reg" else torch.int64),
        "yva": torch.tensor(yva, dtype=torch.float32 if task == "reg" else torch.int64),
    }
    if task == "reg":
        out["ytr"] = out["ytr"][:, None]
        out["yva"] = out["yva"][:, None]
    if d.get("image"):
        out["Xtr"] = out["Xtr"].reshape(-1, 1, 8, 8)
        out["Xva"] = out["Xva"].reshape(-1, 1, 8, 8)
    out["chance"] = chance_level(out)
    return out


def load_sequences(d, seed):
    name = d["name"]
    g = torch.Generator().manual_seed(seed)
    n = d.get("n", 768)
    L = d.get("length", 30)
    task = "cls"
    classes = 2
    if name == "seq_sumsign":      # is the sum of the sequence positive? (accumulate)
        X = torch.randn(n, L, 1, generator=g)
        y = (X[:, :, 0].sum(1) > 0).long()
    elif name == "seq_majority":   # which of 4 symbols is the most frequent? (tokens)
        classes = 4
        tok = torch.randint(0, 4, (n, L), generator=g)
        bias = torch.randint(0, 4, (n,), generator=g)
        extra = torch.rand(n, L, generator=g) < 0.15
        tok = torch.where(extra, bias[:, None].expand(n, L), tok)
        counts = F.one_hot(tok, 4).sum(1)
        y = counts.argmax(1)
        X = F.one_hot(tok, 4).float()
    elif name == "seq_runsum":     # running sum at every step (regression, sequence to sequence)
        task = "reg"
        X = torch.randn(n, L, 1, generator=g) * 0.5
        y = torch.cumsum(X, 1) * 0.3
    elif name == "seq_sine":       # next value of a noisy sine (regression, sequence to sequence)
        task = "reg"
        freq = 0.1 + 0.4 * torch.rand(n, 1, generator=g)
        phase = 6.283 * torch.rand(n, 1, generator=g)
        t = torch.arange(L + 1).float()[None, :]
        s = torch.sin(freq * t + phase) + 0.05 * torch.randn(n, L + 1, generator=g)
        X = s[:, :-1, None]
        y = s[:, 1:, None]
    else:
        raise ValueError(name)
    n_val = n // 5
    out = {"task": task, "seq": True, "classes": classes if task == "cls" else 0,
           "Xtr": X[n_val:], "ytr": y[n_val:], "Xva": X[:n_val], "yva": y[:n_val]}
    if d.get("n_train"):
        out["Xtr"], out["ytr"] = out["Xtr"][: d["n_train"]], out["ytr"][: d["n_train"]]
    out["chance"] = chance_level(out)
    return out


def chance_level(data):
    """Loss of the best constant prediction on the training set."""
    y = data["ytr"]
    if data["task"] == "cls":
        p = torch.bincount(y.flatten(), minlength=max(data["classes"], 2)).double()
        p = p[p > 0] / p.sum()
        return float(-(p * p.log()).sum())
    return float(y.double().var(unbiased=False))


# ---------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------

ACTS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "gelu": nn.GELU, "leaky": nn.LeakyReLU}


class MLP(nn.Module):
    def __init__(self, d_in, hidden, d_out, act="relu", dropout=0.0, init="default", init_std=None,
                 bias_init=None, out_act=None):
        super().__init__()
        dims = [d_in] + list(hidden)
        self.names = []
        for i in range(len(hidden)):
            lin = nn.Linear(dims[i], dims[i + 1])
            self._init(lin, init, init_std, act, bias_init)
            setattr(self, f"fc{i + 1}", lin)
            self.names.append(f"fc{i + 1}")
        self.out = nn.Linear(dims[-1], d_out)
        if init in ("normal",):
            nn.init.normal_(self.out.weight, 0.0, init_std)
            nn.init.zeros_(self.out.bias)
        self.act = ACTS[act]()
        self.drop = nn.Dropout(dropout) if dropout else None
        self.out_act = ACTS[out_act]() if out_act else None

    @staticmethod
    def _init(lin, init, std, act, bias_init):
        if init == "normal":
            nn.init.normal_(lin.weight, 0.0, std)
            nn.init.zeros_(lin.bias)
        elif init == "he":
            nn.init.kaiming_normal_(lin.weight, nonlinearity="relu")
            nn.init.zeros_(lin.bias)
        elif init == "he_big":
            nn.init.kaiming_normal_(lin.weight, nonlinearity="relu")
            lin.weight.data.mul_(std)
            nn.init.zeros_(lin.bias)
        elif init == "xavier":
            nn.init.xavier_uniform_(lin.weight)
            nn.init.zeros_(lin.bias)
        if bias_init is not None:
            nn.init.constant_(lin.bias, bias_init)

    def forward(self, x):
        x = x.flatten(1)
        for n in self.names:
            x = self.act(getattr(self, n)(x))
            if self.drop is not None:
                x = self.drop(x)
        x = self.out(x)
        return self.out_act(x) if self.out_act is not None else x


class CNN(nn.Module):
    def __init__(self, c1, c2, classes, dropout=0.0):
        super().__init__()
        self.conv1 = nn.Conv2d(1, c1, 3, padding=1)
        self.conv2 = nn.Conv2d(c1, c2, 3, padding=1)
        self.fc = nn.Linear(c2 * 16, classes)
        self.drop = nn.Dropout(dropout) if dropout else None

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.flatten(1)
        if self.drop is not None:
            x = self.drop(x)
        return self.fc(x)


class RNNModel(nn.Module):
    def __init__(self, d_in, hidden, d_out, cell="gru", rec_init=None, rec_scale=1.0, seq2seq=False):
        super().__init__()
        if cell == "gru":
            self.rnn = nn.GRU(d_in, hidden, batch_first=True)
        elif cell == "lstm":
            self.rnn = nn.LSTM(d_in, hidden, batch_first=True)
        else:
            self.rnn = nn.RNN(d_in, hidden, batch_first=True, nonlinearity="relu" if cell == "rnn_relu" else "tanh")
        with torch.no_grad():
            if rec_init == "eye":
                self.rnn.weight_hh_l0.copy_(torch.eye(hidden) * rec_scale)
                self.rnn.bias_hh_l0.zero_()
            elif rec_init == "orth":
                nn.init.orthogonal_(self.rnn.weight_hh_l0)
                self.rnn.weight_hh_l0.mul_(rec_scale)
        self.head = nn.Linear(hidden, d_out)
        self.seq2seq = seq2seq

    def forward(self, x):
        o, _ = self.rnn(x)
        return self.head(o if self.seq2seq else o[:, -1])


class TinyTransformer(nn.Module):
    def __init__(self, d_in, length, d_out, d_model=32, heads=2, layers=1, ff=64, dropout=0.0):
        super().__init__()
        self.proj = nn.Linear(d_in, d_model)
        self.pos = nn.Parameter(torch.randn(1, length, d_model) * 0.02)
        layer = nn.TransformerEncoderLayer(d_model, heads, ff, dropout, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers)
        self.head = nn.Linear(d_model, d_out)

    def forward(self, x):
        h = self.encoder(self.proj(x) + self.pos[:, : x.shape[1]])
        return self.head(h.mean(1))


def build_model(m, data):
    kind = m["kind"]
    X = data["Xtr"]
    d_out = data["classes"] if data["task"] == "cls" else data["ytr"].shape[-1]
    if kind == "linear":
        return MLP(X[0].numel(), [], d_out)
    if kind == "mlp":
        return MLP(X[0].numel(), m["hidden"], d_out, act=m.get("act", "relu"), dropout=m.get("dropout", 0.0),
                   init=m.get("init", "default"), init_std=m.get("init_std"), bias_init=m.get("bias_init"),
                   out_act=m.get("out_act"))
    if kind == "cnn":
        return CNN(m.get("c1", 8), m.get("c2", 16), d_out, dropout=m.get("dropout", 0.0))
    if kind == "rnn":
        return RNNModel(X.shape[-1], m.get("hidden", 32), d_out, cell=m.get("cell", "gru"),
                        rec_init=m.get("rec_init"), rec_scale=m.get("rec_scale", 1.0),
                        seq2seq=data["ytr"].dim() == 3)
    if kind == "transformer":
        return TinyTransformer(X.shape[-1], X.shape[1], d_out, d_model=m.get("d_model", 32),
                               heads=m.get("heads", 2), layers=m.get("layers", 1), ff=m.get("ff", 64),
                               dropout=m.get("dropout", 0.0))
    raise ValueError(kind)


# ---------------------------------------------------------------------------------------------
# Optimisers and schedules
# ---------------------------------------------------------------------------------------------

def build_optimizer(o, params):
    name, lr, wd = o["name"], o["lr"], o.get("wd", 0.0)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=wd)
    if name == "momentum":
        return torch.optim.SGD(params, lr=lr, momentum=o.get("momentum", 0.9), weight_decay=wd)
    if name == "nesterov":
        return torch.optim.SGD(params, lr=lr, momentum=o.get("momentum", 0.9), nesterov=True, weight_decay=wd)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=wd, eps=o.get("eps", 1e-8))
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd if wd else 0.01)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, weight_decay=wd)
    raise ValueError(name)


OPT_LABEL = {"sgd": "SGD", "momentum": "SGD", "nesterov": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop"}


def lr_factor(s, t, total, spe):
    """Multiplier of the base learning rate at step t (0-based) of `total`; spe = steps per epoch."""
    kind = s.get("kind", "constant")
    ep = t / spe
    if kind == "constant":
        f = 1.0
    elif kind == "warmup":
        w = max(1, int(s.get("warmup", 0.05) * total))
        f = min(1.0, (t + 1) / w)
    elif kind == "warmup_cosine":
        w = max(1, int(s.get("warmup", 0.05) * total))
        f = (t + 1) / w if t < w else 0.5 * (1 + math.cos(math.pi * (t - w) / max(1, total - w)))
    elif kind == "step":
        f = s.get("gamma", 0.1) ** int(ep // s.get("every", 10))
    elif kind == "cosine":
        f = 0.5 * (1 + math.cos(math.pi * t / total))
    elif kind == "onecycle":   # torch's OneCycleLR with cosine annealing
        up = s.get("pct", 0.3) * total
        lo, end = 1 / 25.0, 1 / 25.0 / 1e4
        if t < up:
            f = lo + (1 - lo) * 0.5 * (1 - math.cos(math.pi * t / up))
        else:
            f = end + (1 - end) * 0.5 * (1 + math.cos(math.pi * (t - up) / max(1.0, total - up)))
    elif kind == "restarts":   # SGDR, cycles of T0 epochs growing by Tmult
        T, start, mult = s.get("T0", 10), 0.0, s.get("Tmult", 1)
        while ep >= start + T:
            start += T
            T *= mult
        f = 0.5 * (1 + math.cos(math.pi * (ep - start) / T))
    elif kind == "ramp":       # a warm-up that keeps rising: from `from` to 1 over the whole run
        f = s.get("from", 0.01) + (1 - s.get("from", 0.01)) * t / total
    elif kind == "warmup_to":  # warm-up to a peak reached at `at` of the run, then constant
        w = max(1, int(s.get("at", 0.5) * total))
        f = s.get("from", 0.01) + (1 - s.get("from", 0.01)) * min(1.0, t / w)
    elif kind == "step_up":    # a step schedule with gamma > 1 (a decay written the wrong way round)
        f = s.get("gamma", 2.0) ** int(ep // s.get("every", 5))
    else:
        raise ValueError(kind)
    for e in s.get("bumps", []):
        if e["at"] <= t < e["at"] + e.get("len", 1):
            f *= e["mult"]
    return f


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------

def loss_fn(spec, data):
    if data["task"] == "reg":
        return lambda out, y: F.mse_loss(out, y)
    if spec.get("loss") == "manual_ce":   # log(softmax(x)) written by hand: log(0) = -inf
        def manual(out, y):
            p = torch.exp(out) / torch.exp(out).sum(1, keepdim=True)
            return -torch.log(p[torch.arange(len(y)), y]).mean()
        return manual
    return lambda out, y: F.cross_entropy(out, y)


def grad_tensors(model):
    """(name, parameter) pairs of the weight tensors whose norms are logged per layer."""
    return [(n, p) for n, p in model.named_parameters() if p.dim() >= 2 and not n.startswith("pos")]


def train(spec):
    seed = spec["seed"]
    data = load_data(spec["data"], seed)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed + 1)
    model = build_model(spec["model"], data)
    lossf = loss_fn(spec, data)
    Xtr, ytr = data["Xtr"], data["ytr"]
    n = len(Xtr)
    if spec.get("pretrain"):   # fine-tuning: the logged run starts from a trained model
        p = spec["pretrain"]
        popt = torch.optim.Adam(model.parameters(), lr=p.get("lr", 3e-3))
        for _ in range(p["epochs"]):
            perm = torch.randperm(n, generator=gen)
            for b in range(0, n, 32):
                idx = perm[b: b + 32]
                popt.zero_grad()
                lossf(model(Xtr[idx]), ytr[idx]).backward()
                popt.step()
    opt = build_optimizer(spec["optim"], model.parameters())
    bs = n if spec["batch"] == "full" else min(spec["batch"], n)
    spe = math.ceil(n / bs)
    epochs = spec["epochs"]
    total = epochs * spe
    sched = spec.get("sched", {"kind": "constant"})
    log = spec["log"]
    gtensors = grad_tensors(model)
    want_grads = bool(log.get("grads"))
    clip = spec.get("clip")
    nan_policy = spec.get("nan_stop", "continue")   # continue | epoch (TerminateOnNaN) | steps:N
    steps = []       # per step: (step, epoch, loss, lr, total grad norm, {name: norm})
    epochs_out = []  # per epoch: (epoch, last step, train mean loss, val loss, train acc, val acc)
    t = 0
    nan_seen_at = None
    stop = False
    for ep in range(epochs):
        perm = torch.randperm(n, generator=gen) if bs < n else torch.arange(n)
        ep_loss, ep_correct, ep_seen = [], 0, 0
        model.train()
        for b in range(spe):
            idx = perm[b * bs: (b + 1) * bs]
            lr = spec["optim"]["lr"] * lr_factor(sched, t, total, spe)
            for g in opt.param_groups:
                g["lr"] = lr
            out = model(Xtr[idx])
            loss = lossf(out, ytr[idx])
            opt.zero_grad()
            loss.backward()
            gn, layers = None, None
            if want_grads:
                with torch.no_grad():
                    sq = [p.grad.double().pow(2).sum() for p in model.parameters() if p.grad is not None]
                    gn = float(torch.stack(sq).sum().sqrt()) if sq else 0.0
                    layers = {nm: float(p.grad.double().norm()) if p.grad is not None else 0.0 for nm, p in gtensors}
            if clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            opt.step()
            lv = float(loss.detach())
            if data["task"] == "cls":
                ep_correct += int((out.detach().argmax(-1) == ytr[idx]).sum())
                ep_seen += len(idx)
            ep_loss.append(lv)
            steps.append((t, ep, lv, lr, gn, layers))
            if not math.isfinite(lv) and nan_seen_at is None:
                nan_seen_at = t
            t += 1
            if nan_seen_at is not None and nan_policy.startswith("steps:") and t - nan_seen_at >= int(nan_policy[6:]):
                stop = True
                break
        model.eval()
        with torch.no_grad():
            vo = model(data["Xva"])
            vl = float(lossf(vo, data["yva"]))
            va = float((vo.argmax(-1) == data["yva"]).float().mean()) if data["task"] == "cls" else None
        ta = ep_correct / max(1, ep_seen) if data["task"] == "cls" else None
        epochs_out.append((ep, t - 1, float(np.mean(ep_loss)) if ep_loss else float("nan"), vl, ta, va))
        if stop or (nan_seen_at is not None and nan_policy == "epoch"):
            break
        if nan_seen_at is not None and nan_policy == "continue" and ep >= epochs - 1:
            break
    return {"data": data, "steps": steps, "epochs": epochs_out, "spe": spe, "bs": bs, "n_train": n,
            "grad_names": [nm for nm, _ in gtensors]}


# ---------------------------------------------------------------------------------------------
# Writers: the formats people have
# ---------------------------------------------------------------------------------------------

def grad_columns(style, names, layers, total):
    """The per-layer gradient-norm columns in one of the usual namings."""
    cols = {}
    if style in (None, "none"):
        return cols
    if style == "total":
        cols["grad_norm"] = total
        return cols
    if style == "layer_index":          # grad_norm, grad_norm_layer0, grad_norm_layer1, ...
        cols["grad_norm"] = total
        for i, nm in enumerate(names):
            cols[f"grad_norm_layer{i}"] = layers[nm]
    elif style == "slash":              # grad_norm/fc1.weight
        cols["grad_norm"] = total
        for nm in names:
            cols[f"grad_norm/{nm}"] = layers[nm]
    elif style == "lightning":          # Lightning's grad_norm(): grad_2.0_norm/<name>, grad_2.0_norm_total
        cols["grad_2.0_norm_total"] = total
        for nm in names:
            cols[f"grad_2.0_norm/{nm}"] = layers[nm]
    elif style == "gradients":          # gradients/<name>
        cols["grad_norm"] = total
        for nm in names:
            cols[f"gradients/{nm}"] = layers[nm]
    elif style == "suffix":             # <name>_grad_norm
        cols["grad_norm"] = total
        for nm in names:
            cols[f"{nm.replace('.weight', '')}_grad_norm"] = layers[nm]
    elif style == "layers_only":        # per-layer norms and no total
        for i, nm in enumerate(names):
            cols[f"grad_norm_layer{i}"] = layers[nm]
    else:
        raise ValueError(style)
    return cols


def logged_points(res, log):
    """The training records a logger emits: list of dicts with step, epoch, loss, lr, grads."""
    every = log.get("every", 1)
    agg = log.get("agg", "last")
    style = log.get("grads")
    names = res["grad_names"]
    pts = []
    buf = []
    for (t, ep, lv, lr, gn, layers) in res["steps"]:
        buf.append((lv, gn, layers))
        if every == "epoch" or (t + 1) % every != 0:
            continue
        if agg == "mean":
            lv_out = float(np.mean([b[0] for b in buf]))
        else:
            lv_out = lv
        rec = {"step": t, "epoch": ep, "loss": lv_out, "lr": lr}
        if style:
            rec["grads"] = grad_columns(style, names, layers, gn)
        pts.append(rec)
        buf = []
    return pts


def epoch_grads(res, log):
    """Per-epoch mean of each gradient-norm column (what a per-epoch callback logs)."""
    style = log.get("grads")
    if not style:
        return {}
    names = res["grad_names"]
    acc = {}
    for (t, ep, lv, lr, gn, layers) in res["steps"]:
        cols = grad_columns(style, names, layers, gn)
        for k, v in cols.items():
            acc.setdefault(ep, {}).setdefault(k, []).append(v)
    return {ep: {k: float(np.mean(v)) for k, v in d.items()} for ep, d in acc.items()}


def fmt(v, style):
    if v is None:
        return ""
    if style == "repr":
        return repr(float(v))
    if style == "g6":
        return "%.6g" % v if math.isfinite(v) else ("nan" if v != v else ("inf" if v > 0 else "-inf"))
    raise ValueError(style)


def write_lightning(res, spec, path):
    """PyTorch Lightning CSVLogger's metrics.csv: sparse rows, keys sorted as they first appear."""
    log = spec["log"]
    opt_name = OPT_LABEL[spec["optim"]["name"]]
    rows = []
    by_epoch_last = {e[0]: e for e in res["epochs"]}
    train_pts = logged_points(res, log) if log.get("every") != "epoch" else []
    ti = 0
    for (ep, last_step, tl, vl, ta, va) in res["epochs"]:
        while ti < len(train_pts) and train_pts[ti]["epoch"] <= ep:
            p = train_pts[ti]
            r = {"epoch": p["epoch"], "step": p["step"], log.get("loss_key", "train_loss"): p["loss"]}
            if log.get("lr_col"):
                r[f"lr-{opt_name}"] = p["lr"]
            r.update(p.get("grads", {}))
            rows.append(r)
            ti += 1
        if log.get("every") == "epoch" or log.get("epoch_loss"):
            r = {"epoch": ep, "step": last_step, "train_loss_epoch" if log.get("every") != "epoch" else log.get("loss_key", "train_loss"): tl}
            if log.get("every") == "epoch":
                r.update(epoch_grads(res, log).get(ep, {}))
                if log.get("lr_col"):
                    r[f"lr-{opt_name}"] = res["steps"][last_step][3]
            rows.append(r)
        if (ep + 1) % log.get("val_every", 1) == 0 and log.get("val", True):
            r = {"epoch": ep, "step": last_step, "val_loss": vl}
            if va is not None and log.get("acc"):
                r["val_acc"] = va
            rows.append(r)
    # header: keys of the first flush (100 rows) sorted, then later keys sorted as they appear
    keys = []
    for i in range(0, len(rows), 100):
        new = sorted({k for r in rows[i:i + 100] for k in r} - set(keys))
        keys.extend(new)
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(keys)
        for r in rows:
            w.writerow([fmt(r[k], "repr") if k in r else "" for k in keys])


def write_keras(res, spec, path):
    """Keras CSVLogger: one row per epoch, 'epoch' then the sorted metric names."""
    log = spec["log"]
    eg = epoch_grads(res, log)
    rows = []
    for (ep, last_step, tl, vl, ta, va) in res["epochs"]:
        r = {"loss": tl}
        if log.get("val", True):
            r["val_loss"] = vl
        if ta is not None and log.get("acc"):
            r["accuracy"] = ta
            if log.get("val", True):
                r["val_accuracy"] = va
        if log.get("lr_col"):
            r[log.get("lr_col") if isinstance(log.get("lr_col"), str) else "lr"] = res["steps"][last_step][3]
        r.update(eg.get(ep, {}))
        rows.append((ep, r))
    keys = sorted(rows[0][1].keys()) if rows else ["loss"]
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\r\n" if log.get("crlf") else "\n")
        w.writerow(["epoch"] + keys)
        for ep, r in rows:
            w.writerow([ep] + [fmt(r[k], "repr") if k in r else "NA" for k in keys])


def write_jsonl(res, spec, path):
    """JSON Lines, one dict per logged step, as json.dumps writes it (NaN and Infinity bare)."""
    log = spec["log"]
    val_style = log.get("val_style", "key")     # key: {"val_loss": x}; split: {"split": "val", "loss": x}
    nested = log.get("nested", False)
    out = []
    if log.get("every") == "epoch":
        eg = epoch_grads(res, log)
        for (ep, last_step, tl, vl, ta, va) in res["epochs"]:
            r = {"epoch": ep, "step": last_step, "loss": tl, "lr": res["steps"][last_step][3]}
            r.update(eg.get(ep, {}))
            if log.get("val", True):
                r["val_loss"] = vl
            out.append(r)
    else:
        pts = logged_points(res, log)
        pi = 0
        for (ep, last_step, tl, vl, ta, va) in res["epochs"]:
            while pi < len(pts) and pts[pi]["epoch"] <= ep:
                p = pts[pi]
                if nested:
                    r = {"step": p["step"], "epoch": p["epoch"], "train": {"loss": p["loss"], "lr": p["lr"]}}
                    if p.get("grads"):
                        r["train"].update(p["grads"])
                else:
                    r = {"step": p["step"], "epoch": p["epoch"], "loss": p["loss"], "lr": p["lr"]}
                    r.update(p.get("grads", {}))
                out.append(r)
                pi += 1
            if log.get("val", True) and (ep + 1) % log.get("val_every", 1) == 0:
                if val_style == "split":
                    out.append({"step": last_step, "epoch": ep, "split": "val", "loss": vl})
                elif nested:
                    out.append({"step": last_step, "epoch": ep, "val": {"loss": vl}})
                else:
                    out.append({"step": last_step, "epoch": ep, "val_loss": vl})
    with open(path, "w") as f:
        for r in out:
            f.write(json.dumps(r) + "\n")


def write_plain_csv(res, spec, path):
    """A hand-made logger: one row per logged step, '%.6g' numbers, its own column names."""
    log = spec["log"]
    step_key = log.get("step_key", "iteration")
    pts = logged_points(res, log)
    val_at = {e[1]: e[3] for e in res["epochs"]} if log.get("val", True) else {}
    gkeys = list(pts[0].get("grads", {}).keys()) if pts else []
    keys = [step_key, "loss"] + gkeys + (["val_loss"] if val_at else []) + ["lr"]
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(keys)
        for p in pts:
            row = [p["step"], fmt(p["loss"], "g6")] + [fmt(p["grads"][k], "g6") for k in gkeys]
            if val_at:
                row.append(fmt(val_at[p["step"]], "g6") if p["step"] in val_at else "")
            row.append(fmt(p["lr"], "g6"))
            w.writerow(row)


WRITERS = {"lightning": (write_lightning, "metrics.csv"), "keras": (write_keras, ".csv"),
           "jsonl": (write_jsonl, ".jsonl"), "csv": (write_plain_csv, ".csv")}


def file_name(spec):
    fmt_ = spec["log"]["format"]
    if fmt_ == "lightning":
        return f"{spec['id']}/version_0/metrics.csv"
    return spec["id"] + WRITERS[fmt_][1]


# ---------------------------------------------------------------------------------------------
# The corpus: scenarios
# ---------------------------------------------------------------------------------------------

CLS_TABULAR = ["digits", "iris", "wine", "breast_cancer", "moons", "classification"]
REG_TABULAR = ["diabetes", "regression"]
GRAD_STYLES = ["layer_index", "slash", "lightning", "gradients", "suffix", "total"]
FORMATS = ["lightning", "keras", "jsonl", "csv"]


class Picker:
    def __init__(self, *parts):
        self.r = random.Random(stable_int(*parts))

    def one(self, xs):
        return xs[self.r.randrange(len(xs))]

    def uniform(self, a, b):
        return self.r.uniform(a, b)

    def logu(self, a, b):
        return math.exp(self.r.uniform(math.log(a), math.log(b)))

    def chance(self, p):
        return self.r.random() < p


def log_spec(p, fmt_, every_choices=(1, 5, 10, 20, 50, "epoch"), grads=None, val=True, **extra):
    log = {"format": fmt_, "val": val}
    if fmt_ == "keras":
        log["every"] = "epoch"
        log["acc"] = p.chance(0.5)
        if p.chance(0.4):
            log["lr_col"] = p.one(["lr", "learning_rate"])
        log["crlf"] = p.chance(0.15)
    else:
        log["every"] = p.one(list(every_choices))
        if fmt_ == "csv" and log["every"] == "epoch":
            log["every"] = 10
        log["agg"] = "mean" if fmt_ == "csv" or p.chance(0.3) else "last"
        log["lr_col"] = p.chance(0.5)
        if fmt_ == "lightning":
            log["epoch_loss"] = p.chance(0.25)
            log["acc"] = p.chance(0.3)
            if p.chance(0.3):
                log["loss_key"] = p.one(["train_loss_step", "loss"])
        if fmt_ == "jsonl":
            log["val_style"] = p.one(["key", "key", "split"])
            log["nested"] = p.chance(0.15) and log["val_style"] == "key"
        if fmt_ == "csv":
            log["step_key"] = p.one(["iteration", "step", "iter", "global_step"])
    if grads:
        log["grads"] = grads
    log.update(extra)
    return log


def healthy_tabular(i):
    p = Picker("healthy_tabular", i)
    ds = p.one(CLS_TABULAR + REG_TABULAR + ["digits", "classification", "regression"])
    data = {"name": ds}
    if ds == "classification":
        data.update(classes=p.one([2, 3, 4]), sep=p.one([0.8, 1.0, 1.5]))
    small = ds in ("iris", "wine")
    kind = p.one(["linear", "mlp", "mlp", "mlp"] + (["cnn"] if ds == "digits" else []))
    if kind == "cnn":
        data["image"] = True
    model = {"kind": kind}
    if kind == "mlp":
        width = p.one([16, 32, 64, 128])
        depth = p.one([1, 1, 2, 2, 3])
        model.update(hidden=[width] * depth, act=p.one(["relu", "relu", "tanh", "gelu", "leaky"]),
                     dropout=p.one([0.0, 0.0, 0.1, 0.2]))
    if kind == "cnn":
        model.update(c1=p.one([4, 8]), c2=p.one([8, 16]), dropout=p.one([0.0, 0.25]))
    opt_name = p.one(["sgd", "momentum", "nesterov", "adam", "adam", "adamw", "rmsprop"])
    base = {"sgd": (0.05, 0.2), "momentum": (0.01, 0.05), "nesterov": (0.01, 0.05), "adam": (5e-4, 3e-3),
            "adamw": (5e-4, 3e-3), "rmsprop": (3e-4, 1e-3)}[opt_name]
    optim = {"name": opt_name, "lr": round(p.logu(*base), 6), "wd": p.one([0.0, 0.0, 1e-4, 1e-3])}
    sched = p.one([{"kind": "constant"}, {"kind": "warmup", "warmup": 0.05}, {"kind": "step", "gamma": 0.3, "every": 10},
                   {"kind": "cosine"}, {"kind": "onecycle"}, {"kind": "warmup_cosine", "warmup": 0.1}])
    n = {"digits": 1437, "iris": 120, "wine": 142, "breast_cancer": 455, "moons": 800, "classification": 800,
         "diabetes": 354, "regression": 800}[ds]
    batch = p.one([1, 8, 16, 32, 64, 128, "full"]) if not small else p.one([4, 8, 16, "full"])
    if kind == "cnn" and batch in (1, "full"):
        batch = 32
    bs = n if batch == "full" else batch
    spe = math.ceil(n / bs)
    # a length that trains without overtraining: about 40-3000 steps
    target_steps = p.one([300, 600, 1200, 2000]) if batch == "full" else p.one([400, 800, 1500, 2500])
    epochs = max(8, min(150, round(target_steps / spe)))
    if batch == "full":
        epochs = max(epochs, 150)
        if opt_name in ("sgd",):
            optim["lr"] = round(p.logu(0.1, 0.5), 4)
    if batch == 1:
        optim["lr"] = round(optim["lr"] / (5 if opt_name in ("sgd", "momentum", "nesterov") else 3), 6)
        epochs = min(epochs, 3)
    fmt_ = p.one(FORMATS)
    every_choices = (1, 5, 10, 20, 50, "epoch") if batch != 1 else (20, 50, "epoch")
    grads = p.one(GRAD_STYLES) if p.chance(0.35) and fmt_ != "keras" else (p.one(GRAD_STYLES) if p.chance(0.15) else None)
    log = log_spec(p, fmt_, every_choices, grads=grads)
    if batch == 1 and log.get("every") != "epoch":
        log["agg"] = "mean"
    if spe * epochs / (1 if log["every"] == "epoch" else log["every"]) < 12 and log["every"] != "epoch":
        log["every"] = 1
    return {"scenario": "healthy_tabular", "intended": [], "data": data, "model": model, "optim": optim,
            "sched": sched, "batch": batch, "epochs": epochs, "log": log}


def healthy_sequence(i):
    p = Picker("healthy_sequence", i)
    kind = p.one(["rnn", "rnn", "transformer"])
    ds = p.one(["seq_sumsign", "seq_sine", "seq_majority"]) if kind == "rnn" else p.one(["seq_majority", "seq_sumsign"])
    data = {"name": ds, "length": p.one([16, 24, 32]), "n": 768}
    model = {"kind": kind}
    if kind == "rnn":
        model.update(cell=p.one(["gru", "lstm", "gru"]), hidden=p.one([16, 32]))
    else:
        model.update(d_model=p.one([16, 32]), heads=2, layers=p.one([1, 2]), ff=64, dropout=p.one([0.0, 0.1]))
    opt_name = p.one(["adam", "adamw", "adam"])
    optim = {"name": opt_name, "lr": round(p.logu(1e-3, 4e-3), 6)}
    sched = p.one([{"kind": "constant"}, {"kind": "warmup_cosine", "warmup": 0.1}, {"kind": "onecycle"}, {"kind": "cosine"}])
    batch = p.one([16, 32, 64])
    epochs = {16: 12, 32: 20, 64: 30}[batch]
    fmt_ = p.one(FORMATS)
    grads = p.one(GRAD_STYLES) if p.chance(0.4) and kind == "rnn" else ("total" if p.chance(0.3) else None)
    log = log_spec(p, fmt_, (1, 5, 10, "epoch"), grads=grads)
    return {"scenario": "healthy_sequence", "intended": [], "data": data, "model": model, "optim": optim,
            "sched": sched, "batch": batch, "epochs": epochs, "log": log, "clip": p.one([None, 1.0, 5.0])}


def healthy_finetune(i):
    """Fine-tuning: the model was trained before; the logged run starts low and improves a little."""
    p = Picker("healthy_finetune", i)
    ds = p.one(["digits", "breast_cancer", "classification", "moons", "regression", "wine"])
    data = {"name": ds}
    model = {"kind": "mlp", "hidden": [p.one([32, 64])] * p.one([1, 2]), "act": "relu", "dropout": p.one([0.0, 0.1])}
    optim = {"name": p.one(["adamw", "momentum", "adam"]), "lr": 0.0}
    optim["lr"] = {"adamw": 1e-4, "adam": 1e-4, "momentum": 2e-3}[optim["name"]]
    fmt_ = p.one(FORMATS)
    batch = p.one([16, 32, 64])
    return {"scenario": "healthy_finetune", "intended": [], "data": data, "model": model, "optim": optim,
            "sched": p.one([{"kind": "constant"}, {"kind": "cosine"}, {"kind": "warmup", "warmup": 0.1}]),
            "batch": batch, "epochs": p.one([5, 8, 12]), "pretrain": {"epochs": p.one([6, 10]), "lr": 2e-3},
            "log": log_spec(p, fmt_, (1, 5, 10, "epoch"), grads=p.one([None, None, "total", "slash"])), "finetune": True}


def healthy_restarts(i):
    """SGDR warm restarts: the loss jumps at each restart and comes back down."""
    p = Picker("healthy_restarts", i)
    ds = p.one(["digits", "classification", "moons", "breast_cancer", "regression"])
    data = {"name": ds}
    if ds == "digits" and p.chance(0.5):
        data["image"] = True
        model = {"kind": "cnn", "c1": 8, "c2": 16}
    else:
        model = {"kind": "mlp", "hidden": [64, 64], "act": "relu"}
    opt_name = p.one(["momentum", "sgd", "adamw"])
    optim = {"name": opt_name, "lr": {"momentum": 0.08, "sgd": 0.3, "adamw": 5e-3}[opt_name], "wd": 5e-4}
    T0 = p.one([5, 8, 10])
    return {"scenario": "healthy_restarts", "intended": [], "data": data, "model": model, "optim": optim,
            "sched": {"kind": "restarts", "T0": T0, "Tmult": p.one([1, 2])}, "batch": p.one([32, 64]),
            "epochs": T0 * p.one([3, 4]),
            "log": log_spec(p, p.one(FORMATS), (1, 5, 10), grads=p.one([None, "total"]))}


def healthy_noisy_labels(i):
    p = Picker("healthy_noisy_labels", i)
    ds = p.one(["digits", "classification", "moons", "breast_cancer"])
    data = {"name": ds, "label_noise": p.one([0.1, 0.2, 0.3])}
    model = {"kind": "mlp", "hidden": [p.one([32, 64])], "act": "relu", "dropout": 0.2}
    optim = {"name": p.one(["adamw", "momentum"]), "lr": 0.0, "wd": 1e-3}
    optim["lr"] = 1e-3 if optim["name"] == "adamw" else 0.02
    return {"scenario": "healthy_noisy_labels", "intended": [], "data": data, "model": model, "optim": optim,
            "sched": p.one([{"kind": "cosine"}, {"kind": "constant"}]), "batch": p.one([16, 32, 64]),
            "epochs": p.one([6, 10, 15]), "log": log_spec(p, p.one(FORMATS), (1, 5, 10, "epoch"))}


# --- unhealthy ---------------------------------------------------------------------------------

def nan_runs(i):
    p = Picker("nan", i)
    variant = p.one(["raw_target_sgd", "manual_ce", "manual_ce", "warmup_too_high", "warmup_too_high", "tanh_ramp"])
    fmt_ = p.one(FORMATS)
    grads = p.one([None, "total", "layer_index", "slash"])
    loss = None
    if variant == "raw_target_sgd":     # MSE on unscaled targets (hundreds): SGD overflows at once
        data = {"name": "diabetes", "raw_y": True}
        model = {"kind": "mlp", "hidden": [32], "act": p.one(["relu", "tanh"])}
        optim = {"name": p.one(["sgd", "momentum"]), "lr": p.one([0.02, 0.05])}
        sched = {"kind": "constant"}
        batch = p.one([16, 32])
        epochs = 30
    elif variant == "manual_ce":        # a hand-written softmax cross-entropy: exp overflows once the logits grow
        data = {"name": p.one(["digits", "breast_cancer", "wine"])}
        model = {"kind": "mlp", "hidden": [64], "act": "relu"}
        optim = {"name": p.one(["adam", "momentum"]), "lr": 0.0}
        optim["lr"] = {"adam": p.one([0.01, 0.02]), "momentum": p.one([0.1, 0.2])}[optim["name"]]
        sched = {"kind": "constant"}
        batch = p.one([16, 32])
        epochs = {"digits": 60, "breast_cancer": 100, "wine": 150}[data["name"]]
        loss = "manual_ce"
    elif variant == "warmup_too_high":  # a warm-up to a rate the model cannot take
        data = {"name": p.one(["diabetes", "regression", "digits", "classification"])}
        model = {"kind": "mlp", "hidden": [64, 64], "act": "relu"}
        optim = {"name": "momentum", "lr": p.one([3.0, 10.0])}
        sched = {"kind": "warmup_to", "from": 0.001, "at": p.one([0.4, 0.6])}
        batch = p.one([32, 64])
        epochs = 25
    else:                               # a tanh network warmed up past its stable rate
        data = {"name": p.one(["diabetes", "regression"])}
        model = {"kind": "mlp", "hidden": [64, 64], "act": "tanh"}
        optim = {"name": "momentum", "lr": p.one([0.5, 1.0])}
        sched = {"kind": "ramp", "from": 0.005}
        batch = 32
        epochs = 30
    spec = {"scenario": "nan", "variant": variant, "intended": ["nan"], "data": data, "model": model,
            "optim": optim, "sched": sched, "batch": batch, "epochs": epochs,
            "nan_stop": p.one(["continue", "epoch", "steps:30", "steps:100"]),
            "log": log_spec(p, fmt_, (1, 5, 10, "epoch"), grads=grads if fmt_ != "keras" or p.chance(0.3) else None)}
    if loss:
        spec["loss"] = loss
    return spec


def divergence_runs(i):
    p = Picker("divergence", i)
    variant = p.one(["ramp_regression", "late_rise_short", "late_rise_short", "step_up", "lr_bump_stays"])
    fmt_ = p.one(FORMATS)
    data = {"name": p.one(["digits", "classification", "moons", "diabetes", "regression", "breast_cancer"])}
    model = {"kind": "mlp", "hidden": [p.one([32, 64])] * p.one([1, 2]), "act": p.one(["relu", "tanh"])}
    batch = p.one([16, 32, 64])
    epochs = p.one([20, 30, 40])
    if variant == "ramp_regression":    # a warm-up that keeps rising: the loss turns up once the rate is too high
        data = {"name": p.one(["diabetes", "regression"])}
        model["act"] = "tanh"
        optim = {"name": "momentum", "lr": p.one([0.3, 0.5])}
        sched = {"kind": "ramp", "from": 0.005}
    elif variant == "late_rise_short":  # a short per-epoch run: falls, then rises in its last third
        fmt_ = p.one(["keras", "keras", "lightning", "jsonl"])
        optim = {"name": p.one(["adam", "momentum"]), "lr": 0.0}
        optim["lr"] = {"adam": p.one([0.1, 0.2]), "momentum": p.one([1.0, 2.0])}[optim["name"]]
        sched = {"kind": "warmup_to", "from": 0.005, "at": 0.9}
        epochs = p.one([15, 19, 24])
    elif variant == "step_up":          # StepLR with gamma > 1
        optim = {"name": p.one(["sgd", "momentum", "adam"]), "lr": 0.0}
        optim["lr"] = {"sgd": 0.05, "momentum": 0.01, "adam": 1e-3}[optim["name"]]
        sched = {"kind": "step_up", "gamma": p.one([2.0, 3.0]), "every": max(2, epochs // 8)}
    else:                               # the rate is set 100x too high partway (a resumed run's mistake)
        model["act"] = "tanh"
        optim = {"name": "momentum", "lr": 0.02}
        sched = {"kind": "constant", "bumps": [{"at": -1, "mult": 100.0, "len": 10 ** 9, "frac": p.one([0.4, 0.5, 0.6])}]}
    grads = p.one([None, None, "total", "slash", "layer_index"]) if fmt_ != "keras" else None
    if fmt_ == "keras" or variant == "late_rise_short":
        every = ("epoch",)
    else:
        every = (1, 5, 10, "epoch")
    return {"scenario": "divergence", "variant": variant, "intended": ["divergence"], "data": data, "model": model,
            "optim": optim, "sched": sched, "batch": batch, "epochs": epochs, "nan_stop": "epoch",
            "log": log_spec(p, fmt_, every, grads=grads)}


def oscillation_runs(i):
    """Gradient descent on unscaled features with too large a step: the loss bounces between levels."""
    p = Picker("oscillation", i)
    variant = p.one(["gd_wine", "minibatch_wine", "minibatch_wine", "adam_minibatch_wine",
                     "minibatch_breast_cancer", "gd_iris", "momentum_wine"])
    batch, epochs = "full", p.one([200, 300, 400])
    model = {"kind": "linear"}
    if variant == "gd_wine":
        data = {"name": "wine", "raw_x": True}
        optim = {"name": "sgd", "lr": p.one([3e-4, 6e-4, 1e-3])}
    elif variant == "gd_iris":      # full-batch GD at the edge of stability: bounces, may settle
        data = {"name": "iris", "raw_x": True}
        optim = {"name": "sgd", "lr": p.one([1.5, 2.0, 3.0])}
    elif variant == "momentum_wine":
        data = {"name": "wine", "raw_x": True}
        optim = {"name": "momentum", "lr": p.one([5e-5, 1e-4])}
    elif variant == "minibatch_wine":
        data = {"name": "wine", "raw_x": True}
        optim = {"name": "sgd", "lr": p.one([1e-3, 2e-3])}
        batch, epochs = p.one([8, 16]), p.one([40, 60])
        if p.chance(0.3):
            model = {"kind": "mlp", "hidden": [16], "act": "relu"}
    elif variant == "adam_minibatch_wine":
        data = {"name": "wine", "raw_x": True}
        optim = {"name": "adam", "lr": p.one([0.1, 0.3])}
        batch, epochs = 16, p.one([40, 60])
    else:
        data = {"name": "breast_cancer", "raw_x": True}
        optim = {"name": "sgd", "lr": p.one([5e-5, 1e-4])}
        batch, epochs = 32, p.one([40, 60])
    if batch == "full":
        fmt_ = p.one(["jsonl", "csv", "lightning", "keras"])
        every = (1, 1, 2, 5)
    else:
        fmt_ = p.one(["keras", "lightning", "jsonl", "csv"])
        every = ("epoch", "epoch", 1, 5) if fmt_ != "csv" else (1, 5)
    return {"scenario": "oscillation", "variant": variant, "intended": ["oscillation"], "data": data, "model": model,
            "optim": optim, "sched": {"kind": "constant"}, "batch": batch, "epochs": epochs,
            "log": log_spec(p, fmt_, every, grads=p.one([None, None, "total"]) if fmt_ != "keras" else None)}


def plateau_runs(i):
    p = Picker("plateau", i)
    variant = p.one(["lr_too_low", "lr_too_low", "dead_relu", "dead_relu_full", "dead_init"])
    fmt_ = p.one(FORMATS)
    grads = p.one([None, None, "total", "layer_index", "slash", "gradients"]) if fmt_ != "keras" else p.one([None, "total"])
    intended = ["plateau"]
    nan_stop = "continue"
    if variant == "lr_too_low":
        data = {"name": p.one(["digits", "classification", "wine", "breast_cancer", "diabetes", "regression"])}
        model = {"kind": "mlp", "hidden": [p.one([32, 64])] * p.one([1, 2, 3]), "act": p.one(["relu", "tanh", "sigmoid"])}
        optim = {"name": p.one(["sgd", "momentum"]), "lr": p.one([1e-5, 3e-5, 1e-4])}
        if optim["name"] == "momentum":
            optim["lr"] /= 10
        sched = {"kind": p.one(["constant", "cosine", "step"]), "gamma": 0.5, "every": 10}
        batch = p.one([32, 64, 128])
        epochs = p.one([10, 20, 30])
    elif variant == "dead_init":    # biases initialised very negative: every ReLU dead from the start
        data = {"name": p.one(["digits", "classification", "diabetes", "regression"])}
        model = {"kind": "mlp", "hidden": [64, 64], "act": "relu", "bias_init": -4.0, "init": "default"}
        optim = {"name": p.one(["momentum", "adam"]), "lr": 0.0}
        optim["lr"] = {"momentum": 0.02, "adam": 1e-3}[optim["name"]]
        sched = {"kind": "constant"}
        batch = p.one([32, 64, "full"])
        epochs = 20 if batch != "full" else 300
    else:                           # a too-high rate for a few steps kills the ReLUs: the loss gets stuck
        full = variant == "dead_relu_full"
        data = {"name": p.one(["digits", "classification", "diabetes", "regression"] if full else ["digits", "digits", "moons"])}
        model = {"kind": "mlp", "hidden": [64, 64], "act": "relu"}
        if full and data["name"] in ("diabetes", "regression"):
            model["out_act"] = "relu"   # a ReLU on the regression output: once dead, nothing moves
        optim = {"name": "sgd", "lr": 0.05}
        sched = {"kind": "constant", "bumps": [{"at": -1, "mult": 100.0, "len": p.one([5, 20]), "frac": p.one([0.2, 0.3, 0.4])}]}
        batch = "full" if full else 64
        epochs = p.one([500, 800]) if full else 30
        nan_stop = "epoch"
    return {"scenario": "plateau", "variant": variant, "intended": intended, "data": data, "model": model,
            "optim": optim, "sched": sched, "batch": batch, "epochs": epochs, "nan_stop": nan_stop,
            "log": log_spec(p, fmt_, (1, 5, 10, 20, "epoch"), grads=grads)}


def overfitting_runs(i):
    """Small data, a big model, no regularisation, trained long."""
    p = Picker("overfitting", i)
    ds = p.one(["digits", "wine", "breast_cancer", "classification", "moons", "diabetes", "regression", "digits", "seq_majority"])
    data = {"name": ds, "n_train": p.one([40, 60, 100])}
    if ds == "digits":
        data["n_train"] = p.one([100, 150, 200])
    if ds == "seq_majority":
        data.update(n_train=120, length=16, n=768)
        model = {"kind": "transformer", "d_model": 32, "layers": 2, "ff": 64}
    elif ds == "digits" and p.chance(0.4):
        data["image"] = True
        model = {"kind": "cnn", "c1": 16, "c2": 32}
    else:
        model = {"kind": "mlp", "hidden": [p.one([128, 256])] * p.one([2, 3]), "act": p.one(["relu", "tanh"])}
    if ds in ("classification",):
        data["flip"] = 0.1
    if ds == "moons":
        data["noise"] = 0.35
    opt_name = p.one(["adam", "adam", "momentum", "adamw"])
    optim = {"name": opt_name, "lr": {"adam": 1e-3, "adamw": 1e-3, "momentum": 0.02}[opt_name]}
    if opt_name == "adamw":
        optim["wd"] = 1e-4
    batch = p.one([8, 16, "full"])
    epochs = p.one([100, 150, 200]) if batch != "full" else p.one([400, 600])
    fmt_ = p.one(FORMATS)
    log = log_spec(p, fmt_, (1, 5, 10, "epoch"), grads=p.one([None, None, "total"]) if fmt_ != "keras" else None)
    if fmt_ == "lightning" and batch == "full":
        log["val_every"] = p.one([1, 5])
    return {"scenario": "overfitting", "intended": ["overfitting"], "data": data, "model": model, "optim": optim,
            "sched": p.one([{"kind": "constant"}, {"kind": "constant"}, {"kind": "cosine"}]), "batch": batch,
            "epochs": epochs, "log": log}


def exploding_runs(i):
    p = Picker("exploding", i)
    variant = p.one(["tanh_rnn_ramp", "tanh_rnn_ramp", "irnn_ramp", "irnn_no_clip", "tanh_mlp_ramp"])
    grads = p.one(["total", "layer_index", "slash", "lightning", "gradients", "suffix"])
    fmt_ = p.one(["lightning", "jsonl", "csv", "jsonl"])
    if variant == "tanh_rnn_ramp":  # a vanilla tanh RNN, plain SGD warmed up too far, no gradient clipping
        data = {"name": "seq_sine", "length": p.one([24, 30]), "n": 640}
        model = {"kind": "rnn", "cell": "rnn_tanh", "hidden": 32}
        optim = {"name": "sgd", "lr": p.one([1.5, 2.5, 4.0])}
        sched = {"kind": "ramp", "from": 0.01}
        batch, epochs = 32, 25
    elif variant == "irnn_ramp":    # an identity-initialised ReLU RNN, the rate rising, no clipping
        data = {"name": "seq_runsum", "length": 30, "n": 640}
        model = {"kind": "rnn", "cell": "rnn_relu", "hidden": 16, "rec_init": "eye", "rec_scale": 1.0}
        optim = {"name": "momentum", "lr": p.one([0.01, 0.03])}
        sched = {"kind": "ramp", "from": 0.01}
        batch, epochs = 32, 25
    elif variant == "irnn_no_clip":
        data = {"name": "seq_runsum", "length": p.one([30, 50]), "n": 640}
        model = {"kind": "rnn", "cell": "rnn_relu", "hidden": 32, "rec_init": "eye", "rec_scale": 1.0}
        optim = {"name": "momentum", "lr": p.one([2e-3, 4e-3])}
        sched = {"kind": "constant"}
        batch, epochs = 32, 30
    else:                           # a plain tanh MLP warmed up past its stable rate
        data = {"name": p.one(["diabetes", "regression"])}
        model = {"kind": "mlp", "hidden": [64, 64], "act": "tanh"}
        optim = {"name": "momentum", "lr": p.one([0.3, 0.5])}
        sched = {"kind": "ramp", "from": 0.005}
        batch, epochs = 32, 30
    return {"scenario": "exploding_gradient", "variant": variant, "intended": ["exploding_gradient"], "data": data,
            "model": model, "optim": optim, "sched": sched, "batch": batch, "epochs": epochs, "nan_stop": "steps:50",
            "log": log_spec(p, fmt_, (1, 2, 5, 10), grads=grads)}


def vanishing_runs(i):
    """A deep sigmoid network with a small initialisation: the first layers get almost no gradient."""
    p = Picker("vanishing", i)
    data = {"name": p.one(["digits", "classification", "wine", "breast_cancer", "moons"])}
    depth = p.one([6, 8, 10, 12])
    model = {"kind": "mlp", "hidden": [p.one([32, 64])] * depth, "act": p.one(["sigmoid", "sigmoid", "tanh"]),
             "init": "normal", "init_std": p.one([0.02, 0.05, 0.1])}
    if model["act"] == "tanh":
        model["init_std"] = 0.02
    optim = {"name": p.one(["sgd", "momentum"]), "lr": p.one([0.01, 0.05, 0.1])}
    grads = p.one(["layer_index", "slash", "lightning", "gradients", "suffix", "layers_only"])
    fmt_ = p.one(["lightning", "jsonl", "csv", "jsonl", "keras"])
    batch = p.one([32, 64])
    n = {"digits": 1437, "classification": 800, "wine": 142, "breast_cancer": 455, "moons": 800}[data["name"]]
    epochs = max(10, round(p.one([400, 800]) / math.ceil(n / batch)))
    return {"scenario": "vanishing_gradient", "intended": ["vanishing_gradient"], "data": data, "model": model,
            "optim": optim, "sched": p.one([{"kind": "constant"}, {"kind": "cosine"}]), "batch": batch,
            "epochs": epochs, "log": log_spec(p, fmt_, (1, 5, 10, "epoch"), grads=grads)}


def spike_runs(i):
    p = Picker("spike", i)
    variant = p.one(["outliers", "lr_bump", "adam_near_zero", "lr_bump"])
    fmt_ = p.one(["lightning", "jsonl", "csv", "jsonl"])
    grads = p.one([None, None, "total"])
    if variant == "outliers":       # one or two corrupted targets: the batches holding them spike
        data = {"name": "regression", "outliers": p.one([1, 2]), "outlier_scale": p.one([30.0, 60.0])}
        model = {"kind": "mlp", "hidden": [64], "act": "relu"}
        optim = {"name": p.one(["adam", "momentum"]), "lr": 0.0}
        optim["lr"] = {"adam": 1e-3, "momentum": 0.002}[optim["name"]]
        sched = {"kind": "constant"}
        batch = 8
        epochs = p.one([5, 8])
        log = log_spec(p, fmt_, (1,), grads=grads)
    elif variant == "lr_bump":      # the rate jumps 100-300x for one step (a schedule bug) and comes back
        data = {"name": p.one(["digits", "classification", "moons", "regression"])}
        model = {"kind": "mlp", "hidden": [64, 64], "act": "relu"}
        optim = {"name": p.one(["momentum", "sgd"]), "lr": 0.0}
        optim["lr"] = {"momentum": 0.01, "sgd": 0.05}[optim["name"]]
        sched = {"kind": "constant", "bumps": [{"at": -1, "mult": p.one([100.0, 300.0]), "len": 1, "frac": p.one([0.3, 0.5, 0.7])}]}
        batch = p.one([32, 64])
        epochs = p.one([20, 30])
        log = log_spec(p, fmt_, (1, 2, 5), grads=grads)
    else:                           # Adam on a noiseless fit: the loss reaches ~1e-12 and jumps by orders of magnitude
        data = {"name": "regression", "noise": 0.0, "n": 500}
        model = {"kind": "linear"}
        optim = {"name": "adam", "lr": p.one([0.005, 0.01])}
        sched = {"kind": "constant"}
        batch = "full"
        epochs = 3000
        log = log_spec(p, fmt_, (1, 2, 5), grads=grads)
    return {"scenario": "spike", "variant": variant, "intended": ["spike"], "data": data, "model": model,
            "optim": optim, "sched": sched, "batch": batch, "epochs": epochs, "log": log}


CATALOGUE = [
    # (scenario function, number of runs)
    (healthy_tabular, 118),
    (healthy_sequence, 20),
    (healthy_finetune, 14),
    (healthy_restarts, 12),
    (healthy_noisy_labels, 10),
    (nan_runs, 24),
    (divergence_runs, 26),
    (oscillation_runs, 34),
    (plateau_runs, 26),
    (overfitting_runs, 26),
    (exploding_runs, 22),
    (vanishing_runs, 20),
    (spike_runs, 24),
]


def all_specs(first=0):
    """The catalogue's runs, numbered from `first` within each scenario: another `first` gives
    another set of runs (every choice and seed follows from the scenario and the number)."""
    specs = []
    for fn, count in CATALOGUE:
        for i in range(first, first + count):
            s = fn(i)
            s["id"] = f"{s['scenario'].replace('_', '-')}-{i:03d}"
            s["seed"] = stable_int(s["id"]) % (2 ** 31)
            specs.append(s)
    return specs


def resolve_bumps(spec, res_total):
    for b in spec.get("sched", {}).get("bumps", []):
        if b.get("at", 0) < 0:
            b["at"] = int(b["frac"] * res_total)


def run_one(spec, out_dir):
    # steps per epoch is known only once the data is loaded: resolve relative bump positions first
    data = load_data(spec["data"], spec["seed"])
    n = len(data["Xtr"])
    bs = n if spec["batch"] == "full" else min(spec["batch"], n)
    total = spec["epochs"] * math.ceil(n / bs)
    resolve_bumps(spec, total)
    t0 = time.process_time()
    w0 = time.time()
    res = train(spec)
    cpu = time.process_time() - t0
    wall = time.time() - w0
    path = os.path.join(out_dir, "runs", file_name(spec))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    WRITERS[spec["log"]["format"]][0](res, spec, path)
    return {"chance": res["data"]["chance"], "classes": res["data"]["classes"], "task": res["data"]["task"],
            "n_train": res["n_train"], "steps_per_epoch": res["spe"], "batch_size": res["bs"],
            "steps_trained": len(res["steps"]), "cpu_seconds": round(cpu, 3), "wall_seconds": round(wall, 3)}


def _run_one_job(job):
    spec, out_dir = job
    info = run_one(spec, out_dir)     # run_one resolves the spec's relative bumps: return it too
    return spec, info


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="output directory (runs/ and generated.json)")
    ap.add_argument("--only", help="regular expression: only the run ids it matches")
    ap.add_argument("--list", action="store_true", help="print the run ids and scenarios, train nothing")
    ap.add_argument("--first", type=int, default=0,
                    help="number the runs of each scenario from N (0: set 1, 1000: set 2, ..., 19000: set 20; 22000: set 23; 20000, 21000 and 23000 to 27000: sets 21, 22 and 24-28, the held-out sets)")
    ap.add_argument("--jobs", type=int, default=1, help="train N runs at once (each on one thread)")
    args = ap.parse_args()
    specs = all_specs(args.first)
    if args.only:
        specs = [s for s in specs if re.search(args.only, s["id"])]
    if args.list:
        for s in specs:
            print(s["id"], s.get("variant", ""), s["log"]["format"])
        return 0
    os.makedirs(args.out, exist_ok=True)
    meta = []
    previous = {}
    gen_path = os.path.join(args.out, "generated.json")
    if args.only and os.path.exists(gen_path):   # regenerate some runs, keep the others' records
        with open(gen_path) as f:
            old = json.load(f)
        previous = {r["id"]: r for r in old["runs"]}
    t_all = time.time()
    c_all = time.process_time()
    with multiprocessing.get_context("fork").Pool(max(1, args.jobs)) as pool:
        done = pool.imap(_run_one_job, [(spec, args.out) for spec in specs])
        for k, (spec, info) in enumerate(done):
            meta.append({"id": spec["id"], "file": "runs/" + file_name(spec), "spec": spec, "facts": info})
            print(f"[{k + 1}/{len(specs)}] {spec['id']}: {info['steps_trained']} steps, {info['cpu_seconds']:.1f} s CPU",
                  file=sys.stderr, flush=True)
    summary = {"torch": torch.__version__, "numpy": np.__version__, "runs": len(meta),
               "wall_seconds": round(time.time() - t_all, 1),
               "cpu_seconds": round(time.process_time() - c_all + sum(r["facts"]["cpu_seconds"] for r in meta), 1)}
    if previous:
        fresh = {r["id"]: r for r in meta}
        meta = [fresh.get(s["id"]) or previous.get(s["id"]) for s in all_specs(args.first)]
        meta = [r for r in meta if r is not None]
        summary["runs"] = len(meta)
        summary["regenerated"] = len(fresh)
    with open(gen_path, "w") as f:
        json.dump({"summary": summary, "runs": meta}, f, indent=1)
    print(f"{len(meta)} runs in {summary['wall_seconds']} s wall, {summary['cpu_seconds']} s CPU", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
