"""gradcheck.weights and gradcheck.logs give the tools' JSON reports as dicts."""

import json
import os
import subprocess

import pytest

import gradcheck

SOURCE = os.environ["GRADCHECK_SOURCE_DIR"]
WEIGHTSTATS = os.environ["GRADCHECK_WEIGHTSTATS"]
CONVDIAG = os.environ["GRADCHECK_CONVDIAG"]


def tool_json(tool, *args):
    out = subprocess.run([tool, "--json", "-", "--quiet", *args], capture_output=True, text=True)
    assert out.returncode in (0, 1), out.stderr
    return json.loads(out.stdout), out.returncode


def without_time(d):
    """The report without its wall-clock fields."""
    if isinstance(d, dict):
        return {k: without_time(v) for k, v in d.items() if k not in ("seconds", "version")}
    if isinstance(d, list):
        return [without_time(v) for v in d]
    return d


@pytest.mark.parametrize("name", ["tiny_mlp.safetensors", "broken_mlp.safetensors", "tiny_mlp.pt", "tiny_mlp.npz"])
def test_weights_report_is_weightstats_json(name):
    path = os.path.join(SOURCE, "samples", "checkpoints", name)
    r = gradcheck.weights.report(path)
    expected, code = tool_json(WEIGHTSTATS, path)
    assert without_time(dict(r)) == without_time(expected)
    assert r.exit_code == code
    assert r.to_text() == subprocess.run([WEIGHTSTATS, "--no-color", path], capture_output=True, text=True).stdout
    assert "</html>" in r._repr_html_()


def test_weights_diff_is_weightstats_diff_json():
    gguf = os.path.join(SOURCE, "tests", "data", "real", "gguf")
    before, after = os.path.join(gguf, "tiny_llama.safetensors"), os.path.join(gguf, "tiny_llama.Q4_0.gguf")
    r = gradcheck.weights.diff(before, after)
    expected, code = tool_json(WEIGHTSTATS, "--diff", before, after)
    assert without_time(dict(r)) == without_time(expected)
    assert r.exit_code == code == 0
    assert r["diff_quantization"]
    errors = [d["rel_change"] for d in r["diff"]]
    assert errors == sorted(errors, reverse=True) and 0.05 < errors[0] < 0.2
    assert r["diff"][0]["after_dtype"] == "Q4_0" and r["diff"][-1]["after_dtype"] == "F32"
    assert any(m["key"] == "llama.attention.head_count" and m["value"] == 4 for m in r["metadata"])
    assert r.to_text() == subprocess.run([WEIGHTSTATS, "--no-color", "--diff", before, after],
                                         capture_output=True, text=True).stdout


def test_logs_diagnose_is_convdiag_json():
    paths = [os.path.join(SOURCE, "tests", "data", "real", "trainlogs", p)
             for p in ("mnist_lightning-020.csv", "whisper-large-v2-japanese-5k-steps")]
    r = gradcheck.logs.diagnose(paths)
    expected, code = tool_json(CONVDIAG, *paths)
    assert without_time(dict(r)) == without_time(expected)
    assert r.exit_code == code == 1
    assert [s["kind"] for run in r["runs"] for s in run["symptoms"]] == ["overfitting", "overfitting"]
    assert "</html>" in r._repr_html_()
    assert json.loads(r.to_json()) == dict(r)
    assert r.to_text() == subprocess.run([CONVDIAG, "--no-color", *paths], capture_output=True, text=True).stdout


def test_logs_diagnose_takes_convdiags_options():
    flat = os.path.join(SOURCE, "tests", "logs", "data", "finetune_flat.csv")
    assert [s["kind"] for s in gradcheck.logs.diagnose(flat)["runs"][0]["symptoms"]] == ["plateau"]
    r = gradcheck.logs.diagnose(flat, pretrained=True)
    expected, code = tool_json(CONVDIAG, "--pretrained", flat)
    assert without_time(dict(r)) == without_time(expected)
    assert r.exit_code == code == 0
    assert any("starts from a trained model" in n for n in r["runs"][0]["notes"])
    lora = os.path.join(SOURCE, "tests", "data", "real", "trainlogs", "dyt-nonorm-lora", "checkpoint-18991")
    assert gradcheck.logs.diagnose(lora).exit_code == 0
    assert gradcheck.logs.diagnose(lora, from_scratch=True).exit_code == 1
    with pytest.raises(ValueError, match="exclude each other"):
        gradcheck.logs.diagnose(flat, from_scratch=True, pretrained=True)


def test_an_unreadable_file_is_an_input_error_naming_it(tmp_path):
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}")
    with pytest.raises(gradcheck.InputError, match="broken.safetensors"):
        gradcheck.weights.report(bad)
    with pytest.raises(ValueError, match="missing.csv"):
        gradcheck.logs.diagnose(str(tmp_path / "missing.csv"))
