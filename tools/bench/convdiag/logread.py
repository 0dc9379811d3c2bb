"""Reads a training log (CSV with a header, JSON Lines) into named series, for labelling and
plotting. Standard library and NumPy only; independent of convdiag's readers.

A .json file may also be one document: Hugging Face's `trainer_state.json` or a Keras History
dump. A series is (steps, values) as NumPy arrays, in file order; missing cells are left out, non-finite
numbers kept. The step of a record is the first present of `step`, `global_step`, `iteration`,
`iter`, `epoch` (or the column named by `step_col`), else the record index.
"""
import csv
import json
import math

import numpy as np

STEP_KEYS = ("step", "global_step", "iteration", "iter", "epoch", "_step", "Step")
MISSING = {"", "na", "n/a", "null", "none"}


def _num(cell):
    if cell is None:
        return None
    if isinstance(cell, bool):
        return None
    if isinstance(cell, (int, float)):
        return float(cell)
    s = str(cell).strip()
    if s.lower() in MISSING:
        return None
    try:
        return float(s)
    except ValueError:
        return None


def _flatten(d, prefix=""):
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "/"))
        else:
            out[key] = v
    return out


def _whole_json(path):
    """A .json file that is one document: Hugging Face's trainer_state.json (its `log_history`
    records) or a Keras History dump (`{"loss": [...], "val_loss": [...]}`, one record per epoch).
    None for JSON Lines."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except ValueError:
        return None
    if isinstance(doc, dict) and isinstance(doc.get("log_history"), list):
        return [_flatten(r) for r in doc["log_history"] if isinstance(r, dict)]
    if isinstance(doc, dict) and doc and all(isinstance(v, list) for v in doc.values()):
        n = max(len(v) for v in doc.values())
        return [dict({"epoch": i}, **{k: v[i] for k, v in doc.items() if i < len(v)}) for i in range(n)]
    return None


def read_records(path):
    if path.endswith(".json"):
        recs = _whole_json(path)
        if recs is not None:
            return recs
    if path.endswith((".jsonl", ".ndjson", ".json")):
        recs = []
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                r = _flatten(json.loads(line))
                split = str(r.get("split", r.get("phase", r.get("mode", r.get("stage", ""))))).lower()
                if split in ("val", "valid", "validation", "eval"):
                    r = {(k if k in STEP_KEYS or k in ("split", "phase", "mode", "stage") else "val_" + k): v
                         for k, v in r.items()}
                recs.append(r)
        return recs
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        return []
    head = rows[0]
    return [dict(zip(head, r)) for r in rows[1:]]


def read_series(path, step_col=None):
    recs = read_records(path)
    keys = []
    for r in recs:
        for k in r:
            if k not in keys:
                keys.append(k)
    sk = step_col or next((k for k in STEP_KEYS if k in keys), None)
    data = {}
    for i, r in enumerate(recs):
        st = _num(r.get(sk)) if sk else None
        if st is None or not math.isfinite(st):
            st = float(i)
        for k, v in r.items():
            if k == sk:
                continue
            x = _num(v)
            if x is None:
                continue
            data.setdefault(k, ([], []))
            data[k][0].append(st)
            data[k][1].append(x)
    return {k: (np.array(s, dtype=float), np.array(v, dtype=float)) for k, (s, v) in data.items()}, sk
