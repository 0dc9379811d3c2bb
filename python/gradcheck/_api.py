"""The NumPy interface over gradcheck._core (the C++ checker)."""

import json

import numpy as np

from . import _core


class Result:
    """What a check found: `passed`, `verdict` ("ok", "mismatch", "kink",
    "inconclusive"), per-tensor results, problems of the function itself and
    hints. The same data as the gradcheck tool's JSON for one model
    (docs/tools-contract.md), as a dict by to_dict()."""

    def __init__(self, core):
        self._core = core
        self._dict = json.loads(core.to_json())

    @property
    def passed(self):
        """True when no tensor mismatches and the function has no problem."""
        return self._core.passed

    @property
    def verdict(self):
        return self._core.verdict

    @property
    def tensors(self):
        """One dict per tensor: name, shape, checked, verdict, max_rel_error, worst entries, hint."""
        return self._dict.get("tensors", [])

    @property
    def problems(self):
        """Problems of the function itself (kind, message): a loss that is not
        repeatable, a gradient that accumulates, NaN or infinite values."""
        return self._dict.get("problems", [])

    @property
    def hints(self):
        """{tensor name: hint} for the tensors that have one."""
        return {t["name"]: t["hint"] for t in self.tensors if t.get("hint")}

    @property
    def evaluations(self):
        return self._core.evaluations

    def to_text(self, color=False, quiet=False, worst_entries=5):
        """The report the gradcheck tool prints."""
        return self._core.to_text(color, quiet, worst_entries)

    def to_json(self):
        return self._core.to_json()

    def to_dict(self):
        return json.loads(self._core.to_json())

    def to_html(self):
        """A self-contained HTML page."""
        return self._core.to_html()

    def _repr_html_(self):
        return self._core.to_html()

    def __bool__(self):
        return self.passed

    def __repr__(self):
        return "<gradcheck.Result " + self._core.verdict_line() + ">"


def _floating(x, what):
    a = np.asarray(x)
    if a.dtype == np.float32 or a.dtype == np.float64:
        return a
    if np.issubdtype(a.dtype, np.integer) or a.dtype == np.bool_:
        return a.astype(np.float64)
    raise TypeError(f"{what} must be a float32 or float64 array, not {a.dtype}")


def _flat_params(params, what):
    """A dict of named arrays -> (flat vector, blocks, unflatten)."""
    if not isinstance(params, dict) or not params:
        raise TypeError(f"{what} must be a non-empty dict of named arrays")
    arrays = {name: _floating(v, f"{what}[{name!r}]") for name, v in params.items()}
    dtypes = {a.dtype for a in arrays.values()}
    if len(dtypes) != 1:
        raise TypeError(f"{what} mixes dtypes ({', '.join(sorted(str(d) for d in dtypes))}): use one")
    dtype = dtypes.pop()
    blocks = [(str(name), list(a.shape)) for name, a in arrays.items()]
    flat = np.concatenate([a.ravel() for a in arrays.values()]).astype(dtype, copy=False)
    sizes = [a.size for a in arrays.values()]
    shapes = [a.shape for a in arrays.values()]
    names = list(arrays)

    def unflatten(v):
        out, k = {}, 0
        for name, n, shape in zip(names, sizes, shapes):
            out[name] = v[k:k + n].reshape(shape)
            k += n
        return out

    def flatten(d, who):
        if not isinstance(d, dict) or set(d) != set(names):
            raise ValueError(f"{who} must return a dict with the keys {names}")
        parts = []
        for name, shape in zip(names, shapes):
            g = np.asarray(d[name])
            if g.shape != shape:
                raise ValueError(f"{who}: {name!r} has shape {g.shape}; the parameter has {shape}")
            parts.append(g.ravel())
        return np.concatenate(parts)

    return flat, blocks, unflatten, flatten


def _array_input(x, name):
    a = _floating(x, name)
    return a.ravel().copy(), [(name, list(a.shape))], a.shape


def check_gradient(f, grad, x, *, name="x", **options):
    """Checks grad(x), the gradient of the scalar function f, at x.

    f(x) -> float and grad(x) -> array of x's shape, with x an array of x's
    shape and dtype. Every coordinate is compared (or a sample:
    max_per_block=N)."""
    flat, blocks, shape = _array_input(x, name)
    return Result(_core.check_gradient(lambda v: f(v.reshape(shape)), lambda v: np.asarray(grad(v.reshape(shape))).ravel(),
                                       flat, blocks, options))


def check_loss(fg, params, **options):
    """Checks a loss and its gradient with respect to named parameters.

    params is a dict of named arrays (one dtype); fg(params) -> (loss, grads)
    with grads a dict of the same names and shapes. Reports name each tensor
    (W1[3,7])."""
    flat, blocks, unflatten, flatten = _flat_params(params, "params")

    def call(v):
        out = fg(unflatten(v))
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise TypeError("fg must return (loss, gradients), the gradients a dict of the parameters' names")
        return out[0], flatten(out[1], "fg's gradients")

    return Result(_core.check_loss(call, flat, blocks, options))


def check_jacobian(f, jacobian, x, *, name="x", **options):
    """Checks jacobian(x), an m x n array, of f(x) -> m values, at x (n values:
    x.size). Entries are reported per (output row, input coordinate)."""
    flat, blocks, shape = _array_input(x, name)
    return Result(_core.check_jacobian(lambda v: np.asarray(f(v.reshape(shape))).ravel(),
                                       lambda v: np.asarray(jacobian(v.reshape(shape))).reshape(-1, flat.size),
                                       flat, blocks, options))


def check_layer(forward, backward, inputs, **options):
    """Checks a layer's backward pass, a vector-Jacobian product.

    inputs is an array or a dict of named arrays (inputs and parameters);
    forward(inputs) -> y (any shape) and backward(inputs, dy) -> the gradient
    with respect to inputs (an array of its shape, or a dict of its names).
    The upstream gradient dy is a seeded standard normal array of y's shape:
    the check is of L = sum(dy * forward(inputs)), whose gradient backward
    must return."""
    if isinstance(inputs, dict):
        flat, blocks, unflatten, flatten = _flat_params(inputs, "inputs")
        out_shape = np.shape(forward(unflatten(flat.copy())))
        return Result(_core.check_layer(lambda v: np.asarray(forward(unflatten(v))).ravel(),
                                        lambda v, dy: flatten(backward(unflatten(v), dy.reshape(out_shape)), "backward"),
                                        flat, blocks, options))
    flat, blocks, shape = _array_input(inputs, "x")
    out_shape = np.shape(forward(flat.reshape(shape)))
    return Result(_core.check_layer(lambda v: np.asarray(forward(v.reshape(shape))).ravel(),
                                    lambda v, dy: np.asarray(backward(v.reshape(shape), dy.reshape(out_shape))).ravel(),
                                    flat, blocks, options))
