"""Why isn't my model converging? convdiag's log diagnosis from Python."""

from . import _core
from ._reports import Report, _paths

__all__ = ["diagnose"]


def diagnose(paths, *, classes=0, from_scratch=False, pretrained=False, threads=0):
    """convdiag's diagnosis of training logs (CSV, JSON Lines, TensorBoard event
    files, trainer_state.json or a Hugging Face output folder, Keras History
    JSON, an MLflow store, W&B exports, DVCLive, a training loop's printed
    output saved to a file): per run its symptoms with
    where they began, the evidence and advice, as convdiag --json writes them.
    The options are convdiag's: classes (--classes), a classifier's class
    count (a loss stuck near ln(classes) is a plateau; 0 takes it from a
    Hugging Face checkpoint's config.json, else unknown); from_scratch
    (--from-scratch), the logs start from a fresh model; pretrained
    (--pretrained), they continue from a trained model, so a loss that
    improves little is no plateau. Raises gradcheck.InputError (a ValueError)
    naming the file when one cannot be read, and ValueError when from_scratch
    and pretrained are both set."""
    if from_scratch and pretrained:
        raise ValueError("from_scratch and pretrained exclude each other")
    return Report(_core.diagnose_logs(_paths(paths), classes, bool(from_scratch), bool(pretrained), threads))
