#!/usr/bin/env python3
"""gradcheck beside torch.autograd.gradcheck on the same compiled plugin.

A short ctypes wrapper makes a gradcheck plugin model (plugin-abi.md) a
torch.autograd.Function: forward calls the model's loss(), backward calls it
again with gradient buffers and scales them by the incoming gradient. Each
model is then checked by torch.autograd.gradcheck (its defaults: eps 1e-6,
atol 1e-5, rtol 1e-3) and by the gradcheck executable, one after the other in
this run, in full and fast modes; gradcheck on one thread and on two (its
default on this machine: torch.autograd.gradcheck has no parallel evaluation).
Prints a Markdown table of times and verdicts, and the speed ratio on the
correct float64 models in full mode.

Usage: torch_gradcheck.py GRADCHECK_EXE PLUGIN.so [--quick]
(tools/bench/peers/run.sh builds both and installs Debian's python3-torch.)
"""
import ctypes
import json
import warnings
import subprocess
import sys
import time

import torch

ABI_VERSION = 1
F32, F64 = 1, 2


class TensorSpec(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("rank", ctypes.c_int32),
                ("shape", ctypes.POINTER(ctypes.c_int64))]


VOIDPP = ctypes.POINTER(ctypes.c_void_p)


class Model(ctypes.Structure):
    _fields_ = [("abi_version", ctypes.c_uint32), ("struct_size", ctypes.c_uint32),
                ("name", ctypes.c_char_p), ("dtype", ctypes.c_int32),
                ("num_tensors", ctypes.c_int32), ("tensors", ctypes.POINTER(TensorSpec)),
                ("create", ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_uint64)),
                ("destroy", ctypes.CFUNCTYPE(None, ctypes.c_void_p)),
                ("init", ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, VOIDPP)),
                ("loss", ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, VOIDPP,
                                          ctypes.POINTER(ctypes.c_double), VOIDPP)),
                ("last_error", ctypes.c_void_p)]


def load_models(path):
    lib = ctypes.CDLL(path)
    fn = lib.gradcheck_plugin_models
    fn.restype = ctypes.POINTER(ctypes.POINTER(Model))
    fn.argtypes = [ctypes.c_uint32, ctypes.POINTER(ctypes.c_int32)]
    count = ctypes.c_int32(0)
    arr = fn(ABI_VERSION, ctypes.byref(count))
    return lib, {arr[i].contents.name.decode(): arr[i].contents for i in range(count.value)}


def pointers(tensors):
    return (ctypes.c_void_p * len(tensors))(*[t.data_ptr() for t in tensors])


def as_function(model):
    """The model as a torch function of its tensors, and its starting values."""
    dtype = torch.float32 if model.dtype == F32 else torch.float64
    shapes = [tuple(model.tensors[i].shape[j] for j in range(model.tensors[i].rank))
              for i in range(model.num_tensors)]
    instance = model.create(0)
    values = [torch.empty(s, dtype=dtype) for s in shapes]
    if model.init(instance, pointers(values)) != 0:
        raise RuntimeError("init failed")

    def call(inputs, want_grads):
        xs = [x.detach().contiguous() for x in inputs]
        grads = [torch.empty_like(x) for x in xs] if want_grads else None
        loss = ctypes.c_double(0)
        rc = model.loss(instance, pointers(xs), ctypes.byref(loss),
                        pointers(grads) if grads else None)
        if rc != 0:
            raise RuntimeError("loss() failed")
        return loss.value, grads

    class PluginLoss(torch.autograd.Function):
        @staticmethod
        def forward(ctx, *inputs):
            ctx.save_for_backward(*inputs)
            return torch.tensor(call(inputs, False)[0], dtype=dtype)

        @staticmethod
        def backward(ctx, grad_output):
            _, grads = call(ctx.saved_tensors, True)
            return tuple(grad_output * g for g in grads)

    return PluginLoss.apply, values


def torch_check(model, fast):
    fn, values = as_function(model)
    inputs = [v.clone().requires_grad_(True) for v in values]
    t0 = time.perf_counter()
    ok = torch.autograd.gradcheck(fn, inputs, fast_mode=fast, raise_exception=False)
    return ok, time.perf_counter() - t0


def ours(exe, plugin, name, mode, threads=1):
    t0 = time.perf_counter()
    out = subprocess.run([exe, plugin, "-m", name, "--mode", mode, "--threads", str(threads), "--json", "-"],
                         capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if out.returncode not in (0, 1, 4):  # 4: nothing disagrees, a tensor stays inconclusive
        raise RuntimeError(f"gradcheck exited {out.returncode}: {out.stderr.strip()}")
    m = json.loads(out.stdout)["models"][0]
    bad = [t["name"] for t in m["tensors"] if t["verdict"] == "mismatch"]
    unsure = [t["name"] for t in m["tensors"] if t["verdict"] == "inconclusive"]
    verdict = "fail" if not m["passed"] else "inconclusive" if m["verdict"] == "inconclusive" else "pass"
    return verdict, bad, unsure, m["evaluations"], wall


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    exe, plugin = sys.argv[1], sys.argv[2]
    quick = "--quick" in sys.argv[3:]
    torch.set_num_threads(1)
    # torch warns that float32 inputs "will likely fail": the table shows it.
    warnings.filterwarnings("ignore", message=".*not of double precision.*")
    _, models = load_models(plugin)
    runs = [("mlp10k_f64", "full"), ("mlp10k_fc1_weight_x1.001_f64", "full"),
            ("mlp10k_f32", "full"), ("mlp10k_fc1_weight_x1.001_f32", "full"),
            ("mlp10k_f64", "fast"), ("mlp10k_fc1_weight_x1.001_f64", "fast"),
            ("mlp10k_f32", "fast"), ("mlp10k_fc1_weight_x1.001_f32", "fast")]
    if not quick:
        runs += [("mlp200k_f64", "fast"), ("mlp200k_fc1_weight_x1.001_f64", "fast"),
                 ("mlp200k_f32", "fast"), ("mlp200k_fc1_weight_x1.001_f32", "fast"),
                 ("relu10k_f64", "full"), ("conv10k_f64", "full")]
    print("| model | truth | mode | torch verdict | torch time | gradcheck verdict | gradcheck evaluations | "
          "gradcheck time, 1 thread | gradcheck time, 2 threads | torch / gradcheck (2 threads) |")
    print("|---|---|---|---|---:|---|---:|---:|---:|---:|")
    right = {"torch": 0, "gradcheck": 0}
    undecided = 0
    speedups = []
    for name, mode in runs:
        truth_ok = "x1.001" not in name
        t_ok, t_time = torch_check(models[name], mode == "fast")
        g_result, g_bad, g_unsure, g_evals, g_time = ours(exe, plugin, name, mode)
        # The same check on two threads (results do not depend on the thread count).
        g2_result, _, _, g2_evals, g2_time = ours(exe, plugin, name, mode, threads=2)
        if (g2_result, g2_evals) != (g_result, g_evals):
            raise RuntimeError(f"{name}: two threads gave {g2_result} in {g2_evals} evaluations, "
                               f"one thread {g_result} in {g_evals}")
        if mode == "full" and truth_ok and name.endswith("_f64"):
            speedups.append((name, t_time / g2_time))
        right["torch"] += t_ok == truth_ok
        # INCONCLUSIVE (exit 4) is neither right nor a false verdict: counted apart.
        right["gradcheck"] += (g_result == "pass") == truth_ok and g_result != "inconclusive"
        undecided += g_result == "inconclusive"
        g_verdict = {"pass": "pass", "fail": "fail: " + ", ".join(g_bad),
                     "inconclusive": "INCONCLUSIVE: " + ", ".join(g_unsure)}[g_result]
        print(f"| {name} | {'correct' if truth_ok else 'fc1.weight x1.001'} | {mode} | "
              f"{'pass' if t_ok else 'fail'} | {t_time:.2f} s | {g_verdict} | {g_evals} | {g_time:.2f} s | "
              f"{g2_time:.2f} s | {t_time / g2_time:.2f}x |", flush=True)
    print(f"\nRight verdicts: torch.autograd.gradcheck {right['torch']}/{len(runs)}, "
          f"gradcheck {right['gradcheck']}/{len(runs)} ({undecided} INCONCLUSIVE, exit 4, counted as not right)")
    print("Full checks of the correct float64 models, torch.autograd.gradcheck's time over gradcheck's on two threads "
          "(target >= 4x): " + ", ".join(f"{n} {r:.2f}x" for n, r in speedups))
    return 0


if __name__ == "__main__":
    sys.exit(main())
