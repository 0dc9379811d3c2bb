"""Why isn't my model converging? convdiag's log diagnosis from Python."""

from . import _core
from ._reports import Report, _paths

__all__ = ["diagnose"]


def diagnose(paths, *, classes=0, threads=0):
    """convdiag's diagnosis of training logs (CSV, JSON Lines, TensorBoard event
    files, trainer_state.json or a Hugging Face output folder, Keras History
    JSON, an MLflow store, W&B exports): per run its symptoms with where they
    began, the evidence and advice, as convdiag --json writes them. classes:
    a classifier's class count (a loss stuck near ln(classes) is a plateau).
    Raises gradcheck.InputError (a ValueError) naming the file when one cannot
    be read."""
    return Report(_core.diagnose_logs(_paths(paths), classes, threads))
