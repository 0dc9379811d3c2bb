"""The README's Python examples run as they are written."""

import os
import re
import warnings

import pytest
import torch

README = os.path.join(os.environ["GRADCHECK_SOURCE_DIR"], "README.md")


def python_blocks():
    text = open(README, encoding="utf-8").read()
    section = text[text.index("## From Python"):]
    section = section[:section.index("\n## ", 1)]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_the_readme_has_a_numpy_and_a_pytorch_example_of_at_most_five_lines():
    blocks = python_blocks()
    assert len(blocks) == 2
    assert "numpy" in blocks[0] and "gradcheck.torch" in blocks[1]
    assert all(len(b.strip().splitlines()) <= 5 for b in blocks)


@pytest.mark.parametrize("index", [0, 1])
def test_the_readme_example_runs(index, capsys):
    exec(compile(python_blocks()[index], f"README.md block {index}", "exec"), {})
    if index == 0:
        assert capsys.readouterr().out.startswith("PASS function (f32, full): its tensor agrees")


def test_what_the_pytorch_example_says_of_torch_autograd_gradcheck():
    torch.manual_seed(0)
    namespace = {}
    exec(compile(python_blocks()[1].replace("assert ", "ok = "), "README.md block 1", "exec"), namespace)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert torch.autograd.gradcheck(torch.nn.functional.gelu, namespace["x"], raise_exception=False) is False
