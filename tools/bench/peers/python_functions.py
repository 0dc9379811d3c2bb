#!/usr/bin/env python3
"""gradcheck.torch.gradcheck beside torch.autograd.gradcheck on the same custom
autograd.Functions, some with planted bugs, in float32 and float64; and the
cost of one evaluation through gradcheck's Python callback.

Each Function's backward is hand-written, as in an extension: correct ones must
pass, planted bugs (a missing factor, a transposed gradient, a missing mask, an
approximate derivative) must fail. Both checkers run one after the other in
this run, with their defaults (torch: eps 1e-6, atol 1e-5, rtol 1e-3).

Usage: python_functions.py [--check]
  --check: exit 1 when gradcheck's verdict is wrong on any of them (the
           ctest's target).
Needs the gradcheck package on PYTHONPATH (build/python) and Debian's python3-torch.
"""
import argparse
import math
import sys
import time
import warnings

import numpy as np
import torch

import gradcheck
import gradcheck.torch as gct


def fn_class(forward, backward):
    """An autograd.Function from a forward(x, w) and a backward(x, w, dy) -> (dx, dw)."""

    class F(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, w):
            ctx.save_for_backward(x, w)
            return forward(x, w)

        @staticmethod
        def backward(ctx, dy):
            x, w = ctx.saved_tensors
            return backward(x, w, dy)

    return F.apply


def gelu_tanh(z):
    return 0.5 * z * (1 + torch.tanh(math.sqrt(2 / math.pi) * (z + 0.044715 * z ** 3)))


def gelu_erf_grad(z):
    return 0.5 * (1 + torch.erf(z / math.sqrt(2))) + z * torch.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)


def gelu_tanh_grad(z):
    k = math.sqrt(2 / math.pi)
    t = torch.tanh(k * (z + 0.044715 * z ** 3))
    return 0.5 * (1 + t) + 0.5 * z * (1 - t * t) * k * (1 + 3 * 0.044715 * z * z)


# (name, correct?, forward, backward, input maker)
CASES = [
    ("linear + tanh, correct", True,
     lambda x, w: torch.tanh(x @ w),
     lambda x, w, dy: ((dy * (1 - torch.tanh(x @ w) ** 2)) @ w.T, x.T @ (dy * (1 - torch.tanh(x @ w) ** 2))), "dense"),
    ("squared weights, missing factor 2", False,
     lambda x, w: x @ (w * w),
     lambda x, w, dy: (dy @ (w * w).T, (x.T @ dy) * w), "dense"),
    ("linear, transposed weight gradient", False,
     lambda x, w: x @ w,
     lambda x, w, dy: (dy @ w.T, (x.T @ dy).T), "square"),
    ("ReLU layer, missing mask", False,
     lambda x, w: torch.relu(x @ w),
     lambda x, w, dy: (dy @ w.T, x.T @ dy), "dense"),
    ("GELU, tanh forward with erf derivative", False,
     lambda x, w: gelu_tanh(x @ w),
     lambda x, w, dy: ((dy * gelu_erf_grad(x @ w)) @ w.T, x.T @ (dy * gelu_erf_grad(x @ w))), "dense"),
    ("GELU, tanh forward and derivative, correct", True,
     lambda x, w: gelu_tanh(x @ w),
     lambda x, w, dy: ((dy * gelu_tanh_grad(x @ w)) @ w.T, x.T @ (dy * gelu_tanh_grad(x @ w))), "dense"),
    ("ReLU at its kinks (zero inputs), correct", True,
     lambda x, w: torch.relu(x) @ w,
     lambda x, w, dy: ((dy @ w.T) * (x > 0).to(x.dtype), torch.relu(x).T @ dy), "kinks"),
]


def inputs(kind, dtype):
    g = torch.Generator().manual_seed(5)
    if kind == "square":
        x, w = torch.randn(6, 5, generator=g, dtype=dtype), torch.randn(5, 5, generator=g, dtype=dtype)
    else:
        x, w = torch.randn(6, 5, generator=g, dtype=dtype), torch.randn(5, 4, generator=g, dtype=dtype)
    if kind == "kinks":
        x[::2, 1::2] = 0  # exact zeros: ReLU's kink
    return x.requires_grad_(True), w.requires_grad_(True)


def torch_verdict(f, args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return torch.autograd.gradcheck(f, args, raise_exception=False)
        except Exception:  # noqa: BLE001 (torch raises on some float32 inputs even without raise_exception)
            return False


def callback_overhead(n=2000, repeats=3):
    """Seconds per evaluation that the check spends beyond the function itself,
    for a function of n float64 values (a cheap one: np.dot)."""
    x = np.linspace(-1, 1, n)
    f = lambda v: float(v @ v)  # noqa: E731
    g = lambda v: 2 * v  # noqa: E731
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        r = gradcheck.check_gradient(f, g, x, method="central", check_reentrancy=False)
        check = time.perf_counter() - t0
        t0 = time.perf_counter()
        for _ in range(r.evaluations):
            f(x)
        direct = time.perf_counter() - t0
        best = min(best, (check - direct) / r.evaluations)
    return best, r.evaluations, n


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    rows, wrong = [], 0
    for name, correct, fwd, bwd, kind in CASES:
        f = fn_class(fwd, bwd)
        for dtype in (torch.float32, torch.float64):
            t0 = time.perf_counter()
            tv = torch_verdict(f, inputs(kind, dtype))
            tt = time.perf_counter() - t0
            t0 = time.perf_counter()
            gv = gct.gradcheck(f, inputs(kind, dtype), raise_exception=False)
            gt = time.perf_counter() - t0
            wrong += gv != correct
            rows.append((name, "f32" if dtype == torch.float32 else "f64", "pass" if correct else "fail",
                         "pass" if tv else "fail", "right" if tv == correct else "WRONG", tt,
                         "pass" if gv else "fail", "right" if gv == correct else "WRONG", gt))
    print("| function | dtype | should | torch.autograd.gradcheck | | time s | gradcheck.torch.gradcheck | | time s |")
    print("|---|---|---|---|---|---:|---|---|---:|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]} | {r[5]:.3f} | {r[6]} | {r[7]} | {r[8]:.3f} |")
    t_right = sum(r[4] == "right" for r in rows)
    g_right = sum(r[7] == "right" for r in rows)
    print(f"\nright: torch.autograd.gradcheck {t_right} of {len(rows)}, gradcheck.torch.gradcheck {g_right} of {len(rows)}")
    overhead, evals, n = callback_overhead()
    print(f"callback overhead: {overhead * 1e6:.1f} microseconds per evaluation beyond the function "
          f"({evals} evaluations of a {n}-value float64 function, central differences, best of 3)")
    if args.check and wrong:
        print(f"gradcheck's verdict was wrong in {wrong} case(s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
