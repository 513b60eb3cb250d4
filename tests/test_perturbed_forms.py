"""The forms of refbp's activations and losses that refbp.perturbed keeps by name (in place,
per stack of networks, complex-capable) give refbp.nn's own forward to rounding."""

from __future__ import annotations

import numpy as np
import pytest

from refbp.names import ACTIVATIONS, LOSSES
from refbp.nn import activations, losses
from refbp.perturbed import activations_in_place, analytic, stacked_losses

X = np.concatenate([np.linspace(-40, 40, 400), [-800.0, -709.5, 0.0, 709.5, 800.0]]).reshape(-1, 5)


def test_the_forms_are_keyed_by_names_of_the_one_table():
    assert set(activations_in_place.IN_PLACE) <= set(ACTIVATIONS)
    assert set(analytic.REPLACEMENTS) <= set(ACTIVATIONS)
    assert set(stacked_losses.PER_STACK) == set(LOSSES)
    assert set(stacked_losses.IN_PLACE) <= set(LOSSES)


@pytest.mark.parametrize("name", sorted(activations.ACTIVATIONS))
def test_activations_in_place_give_the_same_numbers(name):
    activation = activations.get(name)
    expected = activation.forward(np, X.copy())
    np.testing.assert_array_equal(activations_in_place.activate_in_place(activation, X.copy()), expected)


@pytest.mark.parametrize("name", ["identity", "tanh", "sigmoid"])
def test_complex_activations_in_place_give_the_same_numbers(name):
    activation = analytic.REPLACEMENTS.get(name, activations.get(name))
    z = X + 1e-20j
    expected = activation.forward(np, z.copy())
    np.testing.assert_array_equal(activations_in_place.activate_in_place(activation, z.copy()), expected)


def test_the_sigmoid_from_its_exponential_is_refbps_sigmoid():
    u = activations_in_place.exp_of_negated_net(X.copy())
    np.testing.assert_array_equal(activations_in_place.sigmoid_of_exp(u), activations.get("sigmoid").forward(np, X))


@pytest.mark.parametrize("name", sorted(losses.LOSSES))
def test_loss_values_per_stack_member(name):
    loss = losses.get(name)
    rng = np.random.default_rng(3)
    outputs = rng.uniform(0.05, 0.95, (6, 4, 3))
    targets = rng.integers(0, 3, size=4) if name == "cross_entropy" else rng.uniform(0.0, 1.0, (4, 3))
    expected = [float(loss.value(np, outputs[s], targets)) for s in range(6)]
    np.testing.assert_allclose(stacked_losses.loss_values(loss, outputs, targets), expected, rtol=1e-14)
    # the hot path's form, free to overwrite its outputs: the same sums, added in another order
    np.testing.assert_allclose(
        stacked_losses.loss_values_in_place(loss, outputs.copy(), targets), expected, rtol=4 * np.finfo(float).eps
    )


@pytest.mark.parametrize("name", ["sigmoid", "softplus"])
def test_analytic_forms_equal_refbps_on_the_real_axis(name):
    x = np.concatenate([np.linspace(-40, 40, 801), [-800.0, 0.0, 800.0]])
    own, replacement = activations.get(name), analytic.REPLACEMENTS[name]
    np.testing.assert_allclose(replacement.forward(np, x), own.forward(np, x), rtol=4e-16, atol=0)


def test_the_in_place_bce_clamps_saturated_outputs_as_refbp_does():
    loss = losses.get("bce")
    outputs = np.array([[[0.0, 1.0, 1e-50]], [[1.0 - 1e-16, 0.5, 1e-300]]])
    targets = np.array([[0.3, 0.6, 1.0]])
    expected = [float(loss.value(np, outputs[s], targets)) for s in range(2)]
    with np.errstate(divide="ignore"):
        got = stacked_losses.loss_values_in_place(loss, outputs.copy(), targets)
    np.testing.assert_allclose(got, expected, rtol=4 * np.finfo(float).eps)
