"""gradcheck from NumPy: correct derivatives pass, wrong ones fail in the guilty
tensor, in float32 and float64; results carry the report in every shape."""

import json

import numpy as np
import pytest

import gradcheck

RNG = np.random.default_rng(7)


def two_layer(dtype):
    """A two-layer net's loss (tanh hidden layer, softmax cross-entropy) and its
    hand-written backward pass, as course assignments write it."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(8, 5)).astype(dtype)
    y = rng.integers(0, 3, size=8)
    params = {
        "W1": (0.5 * rng.normal(size=(5, 6))).astype(dtype),
        "b1": (0.1 * rng.normal(size=6)).astype(dtype),
        "W2": (0.5 * rng.normal(size=(6, 3))).astype(dtype),
        "b2": (0.1 * rng.normal(size=3)).astype(dtype),
    }

    def fg(p, bug=None):
        h = np.tanh(X @ p["W1"] + p["b1"])
        z = h @ p["W2"] + p["b2"]
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        prob = e / e.sum(axis=1, keepdims=True)
        loss = -np.mean(np.log(prob[np.arange(8), y]))
        dz = prob.copy()
        dz[np.arange(8), y] -= 1
        dz /= 8
        dW2 = h.T @ dz
        db2 = dz.sum(axis=0)
        dh = dz @ p["W2"].T
        da = dh * (1 - h * h) if bug != "activation" else dh
        dW1 = X.T @ da
        db1 = da.sum(axis=0)
        if bug == "scale":
            db2 = db2 * (1.001 if dtype == np.float64 else 1.1)
        return float(loss), {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}

    return params, fg


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_correct_two_layer_net_passes(dtype):
    params, fg = two_layer(dtype)
    r = gradcheck.check_loss(fg, params)
    assert r.passed, r.to_text()
    assert r.verdict == "ok"
    assert [t["name"] for t in r.tensors] == ["W1", "b1", "W2", "b2"]
    assert r.to_dict()["dtype"] == ("f32" if dtype == np.float32 else "f64")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_missing_activation_derivative_is_found_in_its_tensors(dtype):
    params, fg = two_layer(dtype)
    r = gradcheck.check_loss(lambda p: fg(p, bug="activation"), params)
    assert not r.passed
    assert r.verdict == "mismatch"
    guilty = {t["name"] for t in r.tensors if t["verdict"] == "mismatch"}
    assert guilty == {"W1", "b1"}
    assert "W1" in r.to_text()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_gradient_off_by_a_constant_factor_is_found(dtype):
    # x1.001 in float64, x1.1 in float32: b2 has 3 values, too few for the
    # block-wide scale fit that finds x1.001 in large float32 tensors, and
    # float32 Richardson bounds on this loss are ~1% of the derivative
    params, fg = two_layer(dtype)
    r = gradcheck.check_loss(lambda p: fg(p, bug="scale"), params)
    assert not r.passed
    assert {t["name"] for t in r.tensors if t["verdict"] == "mismatch"} == {"b2"}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_check_gradient_on_an_array_of_any_shape(dtype):
    x = RNG.normal(size=(3, 4)).astype(dtype)
    ok = gradcheck.check_gradient(lambda v: np.sum(np.sin(v) * v), lambda v: np.cos(v) * v + np.sin(v), x)
    assert ok.passed, ok.to_text()
    assert ok.tensors[0]["shape"] == [3, 4]
    bad = gradcheck.check_gradient(lambda v: np.sum(np.sin(v) * v), lambda v: np.cos(v) * v, x)
    assert not bad.passed
    worst = bad.tensors[0]["worst"][0]
    assert len(worst["index"]) == 2


def test_relu_at_its_kink_is_not_a_bug():
    x = np.array([-1.0, 0.0, 2.0, 0.0])
    r = gradcheck.check_gradient(lambda v: np.sum(np.maximum(v, 0)), lambda v: (v > 0).astype(float), x)
    assert r.passed, r.to_text()
    assert r.tensors[0]["verdict"] == "kink"


def test_check_jacobian():
    A = RNG.normal(size=(3, 4))
    x = RNG.normal(size=4)
    assert gradcheck.check_jacobian(lambda v: np.tanh(A @ v), lambda v: (1 - np.tanh(A @ v) ** 2)[:, None] * A, x).passed
    wrong = gradcheck.check_jacobian(lambda v: np.tanh(A @ v), lambda v: A, x)
    assert not wrong.passed


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_check_layer_with_named_inputs(dtype):
    rng = np.random.default_rng(3)
    inputs = {"x": rng.normal(size=(4, 5)).astype(dtype), "W": rng.normal(size=(5, 2)).astype(dtype)}

    def forward(p):
        return np.tanh(p["x"] @ p["W"])

    def backward(p, dy, bug=False):
        y = np.tanh(p["x"] @ p["W"])
        da = dy * (1 - y * y)
        dW = p["x"].T @ da
        return {"x": da @ p["W"].T, "W": dW.T.reshape(dW.shape) if bug else dW}

    assert gradcheck.check_layer(forward, backward, inputs).passed
    wrong = gradcheck.check_layer(forward, lambda p, dy: backward(p, dy, bug=True), inputs)
    assert {t["name"] for t in wrong.tensors if t["verdict"] == "mismatch"} == {"W"}


def test_a_loss_that_changes_between_calls_is_a_problem():
    state = {"calls": 0}

    def fg(p):
        state["calls"] += 1
        w = p["w"]
        return float(np.sum(w * w)) + 1e-3 * state["calls"], {"w": 2 * w}

    r = gradcheck.check_loss(fg, {"w": np.ones(3)})
    assert not r.passed
    assert [p["kind"] for p in r.problems] == ["nondeterministic_loss"]


def test_reports_in_every_shape():
    r = gradcheck.check_gradient(lambda v: float(v @ v), lambda v: 2 * v, np.arange(3.0))
    assert json.loads(r.to_json())["passed"] is True
    assert r.to_dict()["tensors"][0]["name"] == "x"
    html = r._repr_html_()
    assert html.startswith("<!DOCTYPE html>") and "</html>" in html
    assert r.to_text(quiet=True).count("\n") <= 1
    assert "PASS" in repr(r) or "pass" in repr(r).lower()
    assert bool(r)


def test_options_are_the_check_options():
    x = np.arange(1.0, 2001.0) / 1000
    r = gradcheck.check_gradient(lambda v: float(np.sum(v ** 3)), lambda v: 3 * v ** 2, x, max_per_block=50, seed=3)
    assert r.tensors[0]["checked"] == 50
    with pytest.raises(TypeError, match="unknown option 'tolerance'"):
        gradcheck.check_gradient(lambda v: 0.0, lambda v: v, x, tolerance=1e-3)
    with pytest.raises(ValueError, match="complex"):
        gradcheck.check_gradient(lambda v: 0.0, lambda v: v, x, method="complex_step")


def test_misuse_is_a_clear_error():
    with pytest.raises(TypeError, match="float32 or float64"):
        gradcheck.check_gradient(lambda v: 0.0, lambda v: v, np.array(["a"]))
    with pytest.raises(ValueError, match="shape"):
        gradcheck.check_loss(lambda p: (0.0, {"w": np.zeros(2)}), {"w": np.zeros(3)})
    with pytest.raises(TypeError, match="f must return a number"):
        gradcheck.check_gradient(lambda v: v, lambda v: v, np.ones(3))
    with pytest.raises(TypeError, match="fg must return \\(loss, gradients\\)"):
        gradcheck.check_loss(lambda p: 1.0, {"w": np.ones(3)})
    with pytest.raises(TypeError, match="mixes dtypes"):
        gradcheck.check_loss(lambda p: (0.0, p), {"a": np.zeros(2, np.float32), "b": np.zeros(2)})


def test_an_exception_in_user_code_reaches_the_caller():
    def f(v):
        raise RuntimeError("boom in f")

    with pytest.raises(RuntimeError, match="boom in f") as caught:
        gradcheck.check_gradient(f, lambda v: v, np.ones(2))
    assert any(entry.name == "f" for entry in caught.traceback)  # the user's frame is in the traceback
