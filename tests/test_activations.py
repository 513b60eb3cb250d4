"""Each activation's forward and hand-written derivative, against torch autograd and finite differences."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from refbp.check.entrywise import compare
from refbp.check.tolerance import FLOAT32, POLICY
from refbp.nn import activations
from refbp.oracle.torch_functions import activation_module

TORCH = POLICY[("float64", "torch-autograd")]
FD = POLICY[("float64", "finite-difference")]
NAMES = sorted(activations.ACTIVATIONS)


def _grid(rng):
    # Away from 0 by 1e-3 so that no finite difference straddles a kink.
    x = rng.uniform(-6, 6, size=(7, 5))
    return np.where(np.abs(x) < 1e-3, 0.5, x)


def _assert_close(actual, reference, tol, what):
    result = compare(actual, reference, tol.atol, tol.rtol)
    assert result.passed, f"{what}: max abs err {result.max_abs_err:.3e} at {result.worst_index}"


@pytest.mark.parametrize("name", NAMES)
def test_forward_and_backward_match_torch(name):
    rng = np.random.default_rng(1)
    net = _grid(rng)
    upstream = rng.standard_normal(net.shape)  # never all-ones: that hides transpositions
    act = activations.get(name)
    out = act.forward(np, net)
    grad = act.backward(np, net, out, upstream)

    x = torch.tensor(net, requires_grad=True)
    y = activation_module(name)(x)
    y.backward(torch.tensor(upstream))
    _assert_close(out, y.detach().numpy(), TORCH, f"{name} forward")
    _assert_close(grad, x.grad.numpy(), TORCH, f"{name} backward")


@pytest.mark.parametrize("name", [n for n in NAMES if activations.get(n).elementwise])
def test_derivative_matches_central_differences(name):
    rng = np.random.default_rng(2)
    net = _grid(rng)
    act = activations.get(name)
    h = 1e-6
    numeric = (act.forward(np, net + h) - act.forward(np, net - h)) / (2 * h)
    _assert_close(act.derivative(np, net, act.forward(np, net)), numeric, FD, f"{name} derivative")


def test_sigmoid_derivative_is_f_one_minus_f_and_at_most_a_quarter():
    act = activations.get("sigmoid")
    net = np.linspace(-8, 8, 101)
    out = act.forward(np, net)
    np.testing.assert_array_equal(act.derivative(np, net, out), out * (1 - out))
    assert act.derivative(np, np.zeros(1), act.forward(np, np.zeros(1)))[0] == 0.25
    assert act.derivative(np, net, out).max() <= 0.25


def test_kink_conventions_follow_torch():
    zero = np.zeros(3)
    assert (activations.get("relu").derivative(np, zero, zero) == 0).all()
    assert (activations.get("leaky_relu").derivative(np, zero, zero) == 0.01).all()
    assert {n for n in NAMES if activations.get(n).kinked} == {"relu", "leaky_relu", "elu"}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", ["sigmoid", "softplus", "softmax", "tanh", "elu"])
def test_stable_for_large_inputs(name, dtype):
    net = np.array([[-1000.0, -100.0, -40.0, 0.0, 40.0, 100.0, 1000.0]], dtype=dtype)
    act = activations.get(name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow, no invalid value
        out = act.forward(np, net)
    assert np.isfinite(out).all()
    assert out.dtype == net.dtype
    reference = activation_module(name)(torch.tensor(net, dtype=torch.float64)).numpy()
    _assert_close(
        out, reference, TORCH if dtype == "float64" else FLOAT32.for_chain(FLOAT32.ACTIVATION), f"{name} at large |x|"
    )
