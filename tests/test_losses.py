"""Each loss and its gradient with respect to the outputs, against torch.nn's losses."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from refbp.check.entrywise import compare
from refbp.check.tolerance import POLICY
from refbp.nn import losses
from refbp.oracle.torch_functions import loss_value

TORCH = POLICY[("float64", "torch-autograd")]


def _data(name, rng, shape=(5, 3)):
    if name == "bce":
        return rng.uniform(0.05, 0.95, shape), rng.uniform(0, 1, shape)
    if name == "cross_entropy":
        return rng.standard_normal(shape), rng.integers(0, shape[-1], shape[:-1])
    return rng.standard_normal(shape), rng.standard_normal(shape)


def _torch_value_and_grad(name, outputs, targets):
    y = torch.tensor(outputs, requires_grad=True)
    t = torch.tensor(targets)
    value = loss_value(name, y, t)
    value.backward()
    return float(value.detach()), y.grad.numpy()


@pytest.mark.parametrize("shape", [(5, 3), (4, 6, 3)], ids=["batch", "batch-time"])
@pytest.mark.parametrize("name", sorted(losses.LOSSES))
def test_value_and_gradient_match_torch(name, shape):
    rng = np.random.default_rng(3)
    outputs, targets = _data(name, rng, shape)
    loss = losses.get(name)
    value, grad = _torch_value_and_grad(name, outputs, targets)
    assert compare(loss.value(np, outputs, targets), value, TORCH.atol, TORCH.rtol).passed
    result = compare(loss.gradient(np, outputs, targets), grad, TORCH.atol, TORCH.rtol)
    assert result.passed, f"{name}: {result}"


def test_cross_entropy_probability_targets_match_torch():
    rng = np.random.default_rng(4)
    logits = rng.standard_normal((6, 4))
    p = rng.uniform(size=(6, 4))
    p /= p.sum(axis=1, keepdims=True)
    value, grad = _torch_value_and_grad("cross_entropy", logits, p)
    ce = losses.get("cross_entropy")
    assert compare(ce.value(np, logits, p), value, TORCH.atol, TORCH.rtol).passed
    assert compare(ce.gradient(np, logits, p), grad, TORCH.atol, TORCH.rtol).passed


def test_half_sse_is_the_seeds_error_and_half_of_sse():
    outputs = np.array([[0.75136507, 0.772928465]])
    targets = np.array([[0.01, 0.99]])
    half = float(losses.get("half_sse").value(np, outputs, targets))
    assert round(half, 9) == 0.298371109  # E_total as the seed prints it
    assert float(losses.get("sse").value(np, outputs, targets)) == pytest.approx(2 * half, rel=1e-15)
    np.testing.assert_array_equal(losses.get("half_sse").gradient(np, outputs, targets), outputs - targets)


def test_cross_entropy_is_stable_for_huge_logits():
    logits = np.array([[1000.0, -1000.0, 0.0]])
    ce = losses.get("cross_entropy")
    assert np.isfinite(ce.value(np, logits, np.array([1])))
    assert np.isfinite(ce.gradient(np, logits, np.array([1]))).all()
