"""gradcheck: are my gradients right?

Checks hand-written derivatives against finite differences with gradcheck's C++
engine: every difference is judged against the estimate's own error bound, so
float32 code is judged as fairly as float64, kinks (ReLU at 0) are told apart
from bugs, and a failing tensor comes with a hint at the kind of bug.

    import numpy as np, gradcheck
    x = np.random.default_rng(0).normal(size=(3, 4))
    r = gradcheck.check_gradient(lambda x: np.sum(np.tanh(x)), lambda x: 1 - np.tanh(x) ** 2, x)
    assert r.passed, r.to_text()

Each check_* takes the options of the C++ CheckOptions as keywords (mode,
method, rtol, atol, safety, max_per_block, seed, batch_size, ...) and returns a
Result. The dtype of the arrays (float32 or float64) is the dtype checked.

gradcheck.weights.report(path) and gradcheck.logs.diagnose(paths) answer the
other two questions (are my weights reasonable? why isn't it converging?) with
the reports of the weightstats and convdiag tools; gradcheck.torch checks
PyTorch code (import it explicitly).
"""

from . import logs, weights
from ._api import Result, check_gradient, check_jacobian, check_layer, check_loss
from ._core import InputError

__all__ = ["Result", "InputError", "check_gradient", "check_loss", "check_jacobian", "check_layer", "weights", "logs"]
__version__ = "0.1.0"
