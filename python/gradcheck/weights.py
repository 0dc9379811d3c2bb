"""Are my weights reasonable? weightstats from Python."""

from . import _core
from ._reports import Report, _paths

__all__ = ["report"]


def report(paths, *, spectral=False, filter="", threads=0):
    """The weightstats report of one checkpoint, or of several read as one
    (safetensors, sharded indexes, .npy/.npz, torch.save files, ONNX models, Keras
    .h5/.keras files): per tensor
    its statistics and flags, as weightstats --json writes them. Raises
    gradcheck.InputError (a ValueError) naming the file when one cannot be
    read."""
    return Report(_core.weights_report(_paths(paths), spectral, filter, threads))
