#!/usr/bin/env python3
"""gradcheck.torch on float32 functions that no threshold of the checker was set
on: correct ones (PyTorch's own derivatives) and approximate derivatives
(0.02-1% off), each checked with gradcheck's defaults and with the consistency
test switched off (consistency_sd=0), side by side in one run.

The correct functions are compositions of torch.nn.functional ops whose
backward is autograd's; the buggy ones are custom autograd.Functions whose
backward is slightly off in a way real code is: the derivative of another
approximation, a constant or a weight rounded to float16 or bfloat16 in the
backward pass, a LayerNorm whose backward uses another epsilon. Shapes, scales
and inputs are drawn from seeds; every draw is seeded.

Usage: float32_heldout.py [--seeds N] [--group calibration|heldout|all] [--check]
  --check: exit 1 when the consistency test fails a correct function that
           the per-entry verdicts pass (the ctest's target).
Needs the gradcheck package on PYTHONPATH (build/python) and Debian's python3-torch.
"""
import argparse
import math
import sys
import time

import torch
import torch.nn.functional as F

import gradcheck.torch as gct
from python_functions import fn_class  # the same Function wrapper, beside this script


def sig(z):
    return torch.sigmoid(z)


def gelu_tanh_grad(z):
    k = math.sqrt(2 / math.pi)
    t = torch.tanh(k * (z + 0.044715 * z ** 3))
    return 0.5 * (1 + t) + 0.5 * z * (1 - t * t) * k * (1 + 3 * 0.044715 * z * z)


def dense_bwd(act_grad, w_in_backward=lambda w: w):
    """Backward of act(x @ w) given act'(z), with the weight as the backward pass reads it."""
    def bwd(x, w, dy):
        s = dy * act_grad(x @ w)
        return s @ w_in_backward(w).T, x.T @ s
    return bwd


def layer_norm_fwd(eps):
    def fwd(x, w):
        z = x @ w
        mu = z.mean(-1, keepdim=True)
        var = ((z - mu) ** 2).mean(-1, keepdim=True)
        return (z - mu) / torch.sqrt(var + eps)
    return fwd


def layer_norm_bwd(eps):
    def bwd(x, w, dy):
        z = x @ w
        n = z.shape[-1]
        mu = z.mean(-1, keepdim=True)
        var = ((z - mu) ** 2).mean(-1, keepdim=True)
        inv = 1 / torch.sqrt(var + eps)
        zh = (z - mu) * inv
        dz = inv * (dy - dy.mean(-1, keepdim=True) - zh * (dy * zh).mean(-1, keepdim=True))
        del n
        return dz @ w.T, x.T @ dz
    return bwd


# Correct: (name, f(x, w)); autograd gives the derivatives.
CORRECT = [
    ("GELU (erf) of a dense layer", lambda x, w: F.gelu(x @ w)),
    ("SiLU of a dense layer", lambda x, w: F.silu(x @ w)),
    ("softplus of a dense layer", lambda x, w: F.softplus(x @ w)),
    ("ELU of a dense layer", lambda x, w: F.elu(x @ w)),
    ("Mish of a dense layer", lambda x, w: F.mish(x @ w)),
    ("LayerNorm of a dense layer", lambda x, w: F.layer_norm(x @ w, (w.shape[1],))),
    ("softmax of a dense layer", lambda x, w: F.softmax(x @ w, dim=-1)),
    ("cross-entropy of a dense layer", lambda x, w: F.cross_entropy(x @ w, torch.arange(x.shape[0]) % w.shape[1])),
    ("MSE of tanh(x w) against a target", lambda x, w: F.mse_loss(torch.tanh(x @ w), torch.linspace(-1, 1, w.shape[1]).expand(x.shape[0], -1))),
    ("sigmoid(x w) times tanh(x w)", lambda x, w: torch.sigmoid(x @ w) * torch.tanh(x @ w)),
    ("self-attention with x w as queries, keys and values",
     lambda x, w: F.softmax((x @ w) @ (x @ w).T / math.sqrt(w.shape[1]), dim=-1) @ (x @ w)),
    ("logsumexp of a dense layer", lambda x, w: torch.logsumexp(x @ w, dim=-1)),
    ("cosine similarity of rows of x w", lambda x, w: F.cosine_similarity(x @ w, torch.roll(x @ w, 1, 0), dim=-1)),
    ("1-D convolution over the rows of x (3 taps from w), tanh",
     lambda x, w: torch.tanh(F.conv1d(x.T.unsqueeze(0), w.T.unsqueeze(-1) * torch.tensor([0.5, 1.0, -0.3]), padding=1))),
    ("ReLU of a dense layer, squared", lambda x, w: F.relu(x @ w) ** 2),
    ("log-sigmoid of a dense layer", lambda x, w: F.logsigmoid(x @ w)),
]

# Approximate derivatives: (name, forward, backward).
HALF = lambda t: t.half().float()  # noqa: E731
BF16 = lambda t: t.bfloat16().float()  # noqa: E731
BUGGY = [
    ("GELU (erf) forward, tanh-GELU derivative",
     lambda x, w: F.gelu(x @ w), dense_bwd(gelu_tanh_grad)),
    ("SiLU, its derivative from a float16 sigmoid",
     lambda x, w: F.silu(x @ w), dense_bwd(lambda z: HALF(sig(z)) * (1 + z * (1 - HALF(sig(z)))))),
    ("tanh, 1 - tanh^2 from a bfloat16 tanh",
     lambda x, w: torch.tanh(x @ w), dense_bwd(lambda z: 1 - BF16(torch.tanh(z)) ** 2)),
    ("softplus, the weight read in float16 by the backward pass",
     lambda x, w: F.softplus(x @ w), dense_bwd(sig, HALF)),
    ("LayerNorm, epsilon 1e-5 forward and 1e-3 backward",
     layer_norm_fwd(1e-5), layer_norm_bwd(1e-3)),
    ("sigmoid at temperature 0.7, 1/0.7 rounded to 1.43 in the backward pass",
     lambda x, w: sig(x @ w / 0.7), dense_bwd(lambda z: 1.43 * sig(z / 0.7) * (1 - sig(z / 0.7)))),
]


# A second group, written after the consistency test's rules were set on the
# groups above and on the test suite, and run once: the held-out measurement.
HELD_OUT_CORRECT = [
    ("Huber loss of a dense layer against a target",
     lambda x, w: F.smooth_l1_loss(x @ w, torch.linspace(-1, 1, w.shape[1]).expand(x.shape[0], -1), beta=0.5)),
    ("Hardswish of a dense layer", lambda x, w: F.hardswish(3 * (x @ w))),
    ("leaky ReLU of a dense layer, squared", lambda x, w: F.leaky_relu(x @ w, 0.1) ** 2),
    ("tanh(x w) w^T (a tied autoencoder)", lambda x, w: torch.tanh(x @ w) @ w.T),
    ("RMSNorm of a dense layer", lambda x, w: (x @ w) / torch.sqrt(((x @ w) ** 2).mean(-1, keepdim=True) + 1e-6)),
    ("GLU of [x w, tanh(x w)]", lambda x, w: F.glu(torch.cat([x @ w, torch.tanh(x @ w)], dim=-1), dim=-1)),
    ("softsign of a dense layer", lambda x, w: F.softsign(x @ w)),
    ("binary cross-entropy with logits", lambda x, w: F.binary_cross_entropy_with_logits(
        x @ w, (torch.arange(x.shape[0] * w.shape[1]).reshape(x.shape[0], -1) % 3 == 0).float())),
    ("KL divergence of log-softmax to a fixed distribution", lambda x, w: F.kl_div(
        F.log_softmax(x @ w, dim=-1), F.softmax(torch.linspace(0, 1, w.shape[1]), dim=0).expand(x.shape[0], -1),
        reduction="batchmean")),
    ("L2-normalised rows of x w", lambda x, w: F.normalize(x @ w, dim=-1)),
    ("sin of a dense layer", lambda x, w: torch.sin(2 * (x @ w))),
    ("SELU of a dense layer", lambda x, w: F.selu(x @ w)),
    ("CELU of a dense layer", lambda x, w: F.celu(x @ w)),
    ("x w times its rows rolled by one", lambda x, w: (x @ w) * torch.roll(x @ w, 1, 0)),
    ("softmin of a dense layer", lambda x, w: F.softmin(x @ w, dim=-1)),
    ("two tanh steps, the first feeding the second",
     lambda x, w: torch.tanh(x[1:] @ w + 0.5 * torch.tanh(x[:-1] @ w))),
]


def rms_norm_bwd(eps):
    def bwd(x, w, dy):
        z = x @ w
        r = torch.sqrt((z ** 2).mean(-1, keepdim=True) + eps)
        dz = dy / r - z * (dy * z).mean(-1, keepdim=True) / r ** 3
        return dz @ w.T, x.T @ dz
    return bwd


def softmax_bwd(round_p):
    def bwd(x, w, dy):
        p = round_p(F.softmax(x @ w, dim=-1))
        dz = p * (dy - (dy * p).sum(-1, keepdim=True))
        return dz @ w.T, x.T @ dz
    return bwd


def bf16_weight_gradient(act_grad):
    def bwd(x, w, dy):
        s = dy * act_grad(x @ w)
        return s @ w.T, (BF16(x).T @ BF16(s))
    return bwd


HELD_OUT_BUGGY = [
    ("Swish with beta 1.1, the derivative with beta rounded to float16 (1.0996)",
     lambda x, w: (x @ w) * sig(1.1 * (x @ w)),
     dense_bwd(lambda z: sig(1.0996094 * z) * (1 + 1.0996094 * z * (1 - sig(1.0996094 * z))))),
    ("RMSNorm, epsilon 1e-6 forward and 1e-4 backward",
     lambda x, w: (x @ w) / torch.sqrt(((x @ w) ** 2).mean(-1, keepdim=True) + 1e-6), rms_norm_bwd(1e-4)),
    ("sigmoid, s (1 - s) from a bfloat16 s", lambda x, w: sig(x @ w), dense_bwd(lambda z: BF16(sig(z)) * (1 - BF16(sig(z))))),
    ("softmax, the backward pass from float16 probabilities", lambda x, w: F.softmax(x @ w, dim=-1), softmax_bwd(HALF)),
    ("GELU (erf) forward, the sigmoid-approximation derivative",
     lambda x, w: F.gelu(x @ w), dense_bwd(lambda z: sig(1.702 * z) * (1 + 1.702 * z * (1 - sig(1.702 * z))))),
    ("tanh, the weight gradient accumulated in bfloat16", lambda x, w: torch.tanh(x @ w),
     bf16_weight_gradient(lambda z: 1 - torch.tanh(z) ** 2)),
]


def inputs(seed):
    """x [B x I] and w [I x O] in float32, their sizes and scale drawn from the seed."""
    g = torch.Generator().manual_seed(1000 + seed)
    b = int(torch.randint(4, 33, (1,), generator=g))
    i = int(torch.randint(3, 9, (1,), generator=g))
    o = int(torch.randint(3, 9, (1,), generator=g))
    scale = [0.5, 1.0, 2.0][int(torch.randint(0, 3, (1,), generator=g))]
    x = (scale * torch.randn(b, i, generator=g)).requires_grad_(True)
    w = (torch.randn(i, o, generator=g) / math.sqrt(i)).requires_grad_(True)
    return x, w


def verdicts(f, seed):
    """(default passed, passed with the consistency test off, largest RMS / limit)."""
    on = gct.check_function(f, inputs(seed))
    off = gct.check_function(f, inputs(seed), consistency_sd=0)
    worst = 0.0
    for t in on.to_dict()["tensors"]:
        if t["consistency"] is not None and t["consistency_limit"]:
            worst = max(worst, t["consistency"] / t["consistency_limit"])
    return on.passed, off.passed, worst


def tally(f, seeds):
    """Over the seeds: checks that failed by default, failed with the test off, largest RMS / limit."""
    on = off = 0
    worst = 0.0
    for seed in range(seeds):
        p_on, p_off, w = verdicts(f, seed)
        on += not p_on
        off += not p_off
        worst = max(worst, w)
    return on, off, worst


def run_group(title, correct, buggy, seeds):
    """Checks every function of a group at every seed; prints its table and totals; returns the
    false alarms the consistency test added."""
    rows = [("correct", name, *tally(f, seeds)) for name, f in correct]
    rows += [("approximate", name, *tally(fn_class(fwd, bwd), seeds)) for name, fwd, bwd in buggy]
    good = [r for r in rows if r[0] == "correct"]
    bad = [r for r in rows if r[0] != "correct"]
    false_on, false_off = sum(r[2] for r in good), sum(r[3] for r in good)
    print(f"\n{title}\n")
    print("| function | derivative | failed (default) | failed (consistency test off) | largest RMS / limit |")
    print("|---|---|---:|---:|---:|")
    for kind, name, on, off, worst in rows:
        print(f"| {name} | {kind} | {on} of {seeds} | {off} of {seeds} | {worst:.2f} |")
    print(f"\ncorrect: false alarms {false_on} of {len(good) * seeds} (test off: {false_off}); "
          f"largest RMS / limit {max(r[4] for r in good):.2f}")
    print(f"approximate: caught {sum(r[2] for r in bad)} of {len(bad) * seeds} (test off: {sum(r[3] for r in bad)})")
    return false_on - false_off


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=6)
    ap.add_argument("--group", choices=("calibration", "heldout", "all"), default="all")
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    start = time.perf_counter()
    print(f"float32, {args.seeds} seeds a function (shapes 4-32 x 3-8 and 3-8 x 3-8, input scale 0.5-2)")
    added = 0  # false alarms of the consistency test on its own
    if args.group in ("calibration", "all"):
        added += run_group("Calibration (the consistency test's rules were set on these and the test suite)",
                                  CORRECT, BUGGY, args.seeds)
    if args.group in ("heldout", "all"):
        added += run_group("Held out (written after the rules were set)", HELD_OUT_CORRECT, HELD_OUT_BUGGY,
                                  args.seeds)
    print(f"\n{time.perf_counter() - start:.1f} s")
    if args.check and added > 0:
        print(f"the consistency test failed {added} correct float32 function(s) that passed entry by entry",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
