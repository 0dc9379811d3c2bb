"""Are my weights reasonable? weightstats from Python."""

from . import _core
from ._reports import Report, _paths

__all__ = ["report", "diff"]


def report(paths, *, spectral=False, filter="", threads=0):
    """The weightstats report of one checkpoint, or of several read as one
    (safetensors, sharded indexes, .npy/.npz, torch.save files, ONNX models, Keras
    .h5/.keras files, GGUF files): per tensor
    its statistics and flags, as weightstats --json writes them. Raises
    gradcheck.InputError (a ValueError) naming the file when one cannot be
    read."""
    return Report(_core.weights_report(_paths(paths), spectral, filter, threads))


def diff(before, after, *, filter="", threads=0):
    """weightstats --diff BEFORE AFTER: AFTER described, and each tensor of
    BEFORE compared with AFTER's of the same name (or llama.cpp's name for a
    Hugging Face one): ||after - before|| / ||before||. Against a quantized GGUF
    file this is the error quantization introduced, ranked, largest first
    (report["diff"], report["diff_quantization"])."""
    return Report(_core.weights_diff(str(before), str(after), filter, threads))
