"""gradcheck.torch: autograd's derivatives, custom autograd.Functions and
modules, judged in the dtype they run in."""

import numpy as np
import pytest
import torch

import gradcheck.torch as gct


class Softplus(torch.autograd.Function):
    """A hand-written softplus and its derivative, the logistic sigmoid."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.nn.functional.softplus(x)

    @staticmethod
    def backward(ctx, dy):
        (x,) = ctx.saved_tensors
        return dy * torch.sigmoid(x)


class BuggySoftplus(Softplus):
    """Its backward is 1% too large."""

    @staticmethod
    def backward(ctx, dy):
        (x,) = ctx.saved_tensors
        return dy * torch.sigmoid(x) * 1.01


def mlp_input(dtype):
    g = torch.Generator().manual_seed(0)
    return torch.randn(6, 5, generator=g, dtype=dtype, requires_grad=True)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_a_correct_custom_function_passes(dtype):
    assert gct.gradcheck(Softplus.apply, (mlp_input(dtype),)) is True


@pytest.mark.filterwarnings("ignore:Input #0 requires gradient and is not a double precision")
def test_where_torch_autograd_gradcheck_fails_correct_float32_code_gradcheck_passes_it():
    x = mlp_input(torch.float32)
    assert torch.autograd.gradcheck(Softplus.apply, (x,), raise_exception=False) is False
    assert gct.gradcheck(Softplus.apply, (x,)) is True


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_a_wrong_backward_raises_with_the_report(dtype):
    with pytest.raises(gct.GradcheckError, match="input0") as caught:
        gct.gradcheck(BuggySoftplus.apply, mlp_input(dtype))
    assert caught.value.result.verdict == "mismatch"
    assert gct.gradcheck(BuggySoftplus.apply, mlp_input(dtype), raise_exception=False) is False


def test_several_inputs_and_outputs_and_inputs_without_gradient():
    g = torch.Generator().manual_seed(1)
    a = torch.randn(3, 4, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(4, 2, generator=g, dtype=torch.float64, requires_grad=True)
    c = torch.randn(3, 2, generator=g, dtype=torch.float64)  # no gradient wanted
    idx = torch.tensor([1, 0])

    def fn(a, b, c, idx):
        y = torch.tanh(a @ b) + c
        return y, y[:, idx].exp(), idx
    r = gct.check_function(fn, (a, b, c, idx))
    assert r.passed, r.to_text()
    assert [t["name"] for t in r.tensors] == ["input0", "input1"]


def test_torch_tolerance_arguments_are_accepted():
    assert gct.gradcheck(Softplus.apply, (mlp_input(torch.float64),), eps=1e-6, atol=1e-5, rtol=1e-3)


def small_net(dtype, act):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(5, 8), act, torch.nn.Linear(8, 3)).to(dtype)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(16, 5, generator=g, dtype=dtype)
    target = torch.randint(0, 3, (16,), generator=g)
    return net, x, target


class Act(torch.nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_check_module_names_the_parameters(dtype):
    net, x, target = small_net(dtype, torch.nn.Tanh())
    before = [p.detach().clone() for p in net.parameters()]
    r = gct.check_module(net, torch.nn.functional.cross_entropy, x, target)
    assert r.passed, r.to_text()
    assert [t["name"] for t in r.tensors] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert all(torch.equal(p, q) for p, q in zip(before, net.parameters()))


def test_check_module_finds_a_wrong_backward_in_the_layers_before_it():
    net, x, target = small_net(torch.float64, Act(BuggySoftplus.apply))
    r = gct.check_module(net, torch.nn.functional.cross_entropy, x, target)
    assert not r.passed
    assert {t["name"] for t in r.tensors if t["verdict"] == "mismatch"} == {"0.weight", "0.bias"}


def test_misuse_is_a_clear_error():
    with pytest.raises(ValueError, match="requires_grad"):
        gct.gradcheck(torch.sin, torch.ones(3))
    with pytest.raises(TypeError, match="float32 or all float64"):
        gct.gradcheck(lambda a, b: a + b, (torch.ones(2, dtype=torch.float32, requires_grad=True),
                                           torch.ones(2, dtype=torch.float64, requires_grad=True)))
