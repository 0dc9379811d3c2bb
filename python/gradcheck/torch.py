"""gradcheck for PyTorch: a drop-in for torch.autograd.gradcheck, and a check of
a module's parameter gradients.

The derivatives checked are the ones autograd computes: those of custom
autograd.Functions' backward methods, of C++/CUDA extensions, of any
differentiable code. Unlike torch.autograd.gradcheck, float32 inputs are
judged at float32 precision (an error bound per entry), so correct float32
code passes without a switch to double.
"""

import numpy as np
import torch

from . import _api

__all__ = ["GradcheckError", "gradcheck", "check_function", "check_module"]


class GradcheckError(RuntimeError):
    """Raised by gradcheck() when a derivative is wrong; the message is the report,
    and `result` the gradcheck.Result."""

    def __init__(self, result):
        super().__init__(result.to_text())
        self.result = result


def _as_tuple(x):
    return x if isinstance(x, tuple) else (x,)


def _floating_outputs(out):
    outs = [o for o in _as_tuple(out) if isinstance(o, torch.Tensor) and o.is_floating_point()]
    if not outs:
        raise ValueError("the function returned no floating-point tensor")
    return outs


def _weights(outputs, seed):
    """One seeded standard normal weight per output entry (the same draws for every call)."""
    rng = np.random.default_rng(seed)
    return [torch.as_tensor(rng.standard_normal(o.shape), dtype=o.dtype, device=o.device) for o in outputs]


def _reduce(outputs, weights):
    total = None
    for o, w in zip(outputs, weights):
        term = (o * w).sum()
        total = term if total is None else total + term
    return total


def _to_numpy(t):
    return t.detach().cpu().numpy().copy()


def _common_dtype(tensors, what):
    dtypes = {t.dtype for t in tensors}
    if len(dtypes) != 1 or dtypes.pop() not in (torch.float32, torch.float64):
        raise TypeError(f"{what} must all be float32 or all float64 tensors")
    return tensors[0].dtype


def check_function(fn, inputs, *, seed=0, **options):
    """Checks autograd's derivatives of fn at inputs; returns a gradcheck.Result.

    inputs: a tensor or a tuple of arguments; the floating tensors with
    requires_grad=True are checked (reported as input0, input1, ... by
    position). Every floating output takes part, reduced to one scalar with
    seeded standard normal weights (a vector-Jacobian product, as check_layer
    does). Tensors stay on their device; options are those of
    gradcheck.check_loss."""
    args = _as_tuple(inputs)
    checked = {i: a for i, a in enumerate(args)
               if isinstance(a, torch.Tensor) and a.is_floating_point() and a.requires_grad}
    if not checked:
        raise ValueError("no input requires a gradient: pass tensors with requires_grad=True")
    _common_dtype(list(checked.values()), "the inputs that require a gradient")
    with torch.no_grad():
        weights = _weights(_floating_outputs(fn(*args)), seed)
    names = {i: f"input{i}" for i in checked}

    def fg(params):
        call = list(args)
        leaves = {}
        for i, a in checked.items():
            leaves[i] = torch.as_tensor(params[names[i]], dtype=a.dtype, device=a.device).requires_grad_(True)
            call[i] = leaves[i]
        loss = _reduce(_floating_outputs(fn(*call)), weights)
        grads = torch.autograd.grad(loss, [leaves[i] for i in checked], allow_unused=True)
        out = {}
        for i, g in zip(checked, grads):
            out[names[i]] = np.zeros(args[i].shape, dtype=params[names[i]].dtype) if g is None else _to_numpy(g)
        return float(loss.detach().cpu()), out

    params = {names[i]: _to_numpy(a) for i, a in checked.items()}
    return _api.check_loss(fg, params, seed=seed, **options)


def gradcheck(fn, inputs, *, raise_exception=True, seed=0, **options):
    """A drop-in for torch.autograd.gradcheck: True when autograd's derivatives of
    fn at inputs are right; otherwise raises GradcheckError with gradcheck's
    report (or returns False with raise_exception=False). torch's tolerance
    arguments (eps, atol, rtol, ...) are not needed: each entry is judged
    against its own error bound; rtol and atol, when given, override it."""
    for torch_only in ("eps", "nondet_tol", "check_undefined_grad", "check_grad_dtypes", "check_batched_grad",
                       "check_batched_forward_grad", "check_forward_ad", "check_backward_ad", "fast_mode",
                       "check_sparse_nnz"):
        options.pop(torch_only, None)
    result = check_function(fn, inputs, seed=seed, **options)
    if result.passed:
        return True
    if raise_exception:
        raise GradcheckError(result)
    return False


def check_module(module, loss_fn, *batch, seed=0, **options):
    """Checks the gradients of a module's parameters (those that require a
    gradient, by their names: fc1.weight) for one batch; returns a
    gradcheck.Result.

    The loss is loss_fn(module(*batch[:-1]), batch[-1]) for a batch of inputs
    and a target, or loss_fn(module(batch[0])) for a batch of one. Put the
    module in eval() mode first if it uses dropout or batch statistics that
    change between calls."""
    if not batch:
        raise ValueError("check_module needs a batch: inputs and a target, or one input")
    named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
    if not named:
        raise ValueError("the module has no parameter that requires a gradient")
    _common_dtype([p for _, p in named], "the module's parameters")
    original = {n: p.detach().clone() for n, p in named}

    def loss_of_batch():
        if len(batch) == 1:
            return loss_fn(module(batch[0]))
        return loss_fn(module(*batch[:-1]), batch[-1])

    def fg(params):
        with torch.no_grad():
            for n, p in named:
                p.copy_(torch.as_tensor(params[n], dtype=p.dtype, device=p.device))
        loss = loss_of_batch()
        grads = torch.autograd.grad(loss, [p for _, p in named], allow_unused=True)
        out = {n: (np.zeros(p.shape, dtype=params[n].dtype) if g is None else _to_numpy(g))
               for (n, p), g in zip(named, grads)}
        return float(loss.detach().cpu()), out

    try:
        return _api.check_loss(fg, {n: _to_numpy(p) for n, p in named}, seed=seed, **options)
    finally:
        with torch.no_grad():
            for n, p in named:
                p.copy_(original[n])
