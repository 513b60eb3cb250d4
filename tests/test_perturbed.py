"""refbp.perturbed, the batched forms of refbp's forward for finite differences: stacked and
rank-one forward passes give the same losses as one forward per perturbed network, for
every activation and loss, and refbp.oracle.fd gives the same results with them as without."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from refbp.cases import SUITE_DIR, Case, MLPNetwork, load_case
from refbp.loss_forms import PerturbedForm
from refbp.nn import build_model, loss_function, losses
from refbp.oracle.fd import finite_difference
from refbp.perturbed import loss_forms, series_paths
from refbp.perturbed.moved import MAX_RUNS
from refbp.perturbed.stacked import stacked_forward
from refbp.testing.strategies import mlp_documents

MLP_CASES = sorted((SUITE_DIR / "mlp").glob("*.json"))


def small_case(activation_names, loss="half_sse", bias=True, classes=False, seed=0) -> Case:
    sizes = (3, 5, 4, 3)[: len(activation_names) + 1]
    network = MLPNetwork(sizes=sizes, activations=tuple(activation_names), bias=bias)
    rng = np.random.default_rng(seed)
    params = {name: rng.standard_normal(shape) for name, shape in network.param_shapes().items()}
    inputs = rng.standard_normal((4, sizes[0]))
    if classes:
        targets = rng.integers(0, sizes[-1], size=4)
    else:
        targets = rng.uniform(0.05, 0.95, (4, sizes[-1]))
    return Case(id="batched", network=network, loss=loss, params=params, inputs=inputs, targets=targets)


def batched_at(forms, params):
    """The batched form of `forms` at `params`, with its own chunk sizes."""
    return forms.perturbed.at(params, forms.perturbed.chunks)


def without(forms, *names):
    """`forms` without the named forms (None): the loop, or no probe."""
    return dataclasses.replace(forms, **dict.fromkeys(names))


def assert_same_gradients(one, other, names, **tolerance):
    for name in names:
        np.testing.assert_allclose(one.grads[name], other.grads[name], err_msg=name, **tolerance)


def one_forward_each(loss, params: dict, name: str, indices, deltas) -> list:
    """The loss of each perturbed network by itself: params[name].flat[i] moved by d."""
    values = []
    for i, d in zip(indices, deltas):
        moved = {n: p.copy() for n, p in params.items()}
        moved[name].reshape(-1)[i] += d
        values.append(loss(moved))
    return values


CASES = [
    small_case(("sigmoid", "tanh", "identity")),
    small_case(("relu", "leaky_relu", "softmax"), loss="mse"),
    small_case(("elu", "softplus", "sigmoid"), loss="bce"),
    small_case(("tanh", "identity"), loss="cross_entropy", classes=True),
    small_case(("softplus", "identity"), loss="cross_entropy"),
    small_case(("sigmoid", "sigmoid"), loss="sse", bias=False),
    # a sigmoid layer between the first and the output layer: the output nets by series
    small_case(("tanh", "sigmoid", "identity")),
    small_case(("relu", "sigmoid", "softmax"), loss="cross_entropy", classes=True),
    small_case(("sigmoid", "sigmoid", "sigmoid"), loss="bce", bias=False),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(c.network.activations) + "-" + c.loss)
def test_perturbed_losses_equal_one_forward_per_network(case):
    forms = loss_forms(case)
    rng = np.random.default_rng(1)
    for name, tensor in case.params.items():
        indices = rng.integers(0, tensor.size, size=7)
        deltas = rng.standard_normal(7) * 1e-2
        batched = batched_at(forms, case.params)(name, indices, deltas)
        looped = one_forward_each(forms.loss, case.params, name, indices, deltas)
        np.testing.assert_allclose(batched, looped, rtol=1e-13, atol=1e-14, err_msg=name)


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(c.network.activations) + "-" + c.loss)
def test_stacked_parameter_sets_equal_one_forward_each(case):
    forms = loss_forms(case)
    rng = np.random.default_rng(2)
    stack = {n: p[None] + 0.1 * rng.standard_normal((5,) + p.shape) for n, p in case.params.items()}
    values = forms.stacked(stack)
    expected = [forms.loss({n: stack[n][s] for n in stack}) for s in range(5)]
    np.testing.assert_allclose(values, expected, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("method", ["central", "richardson", "sampled"])
@pytest.mark.parametrize("path", [p for p in MLP_CASES if "b64" not in p.name][:6], ids=lambda p: p.stem)
def test_batched_finite_differences_equal_the_loop(path, method):
    case = load_case(path)
    forms = loss_forms(case)
    batched = finite_difference(method, forms, case.params)
    looped = finite_difference(method, without(forms, "perturbed"), case.params)
    assert batched.kinks == looped.kinks
    assert_same_gradients(batched, looped, case.params, rtol=1e-6, atol=1e-9)


def test_batched_complex_step_equals_the_loop():
    case = CASES[0]
    forms = loss_forms(case)
    batched = finite_difference("complex", forms, case.params)
    looped = finite_difference("complex", without(forms, "complex_perturbed"), case.params)
    assert_same_gradients(batched, looped, case.params, rtol=1e-14, atol=1e-16)


def test_chunks_do_not_change_the_result():
    case = CASES[1]
    forms = loss_forms(case)
    whole = finite_difference("central", forms, case.params)
    small = dataclasses.replace(forms.perturbed, chunks=dict.fromkeys(case.params, 3))
    chunked = finite_difference("central", dataclasses.replace(forms, perturbed=small), case.params)
    assert_same_gradients(whole, chunked, case.params, rtol=0, atol=0)


def test_unstacked_forward_is_unchanged_by_the_stacked_path():
    case = CASES[0]
    model = build_model(case.network)
    plain = model.forward(np, case.params, case.inputs)
    _, outputs = stacked_forward(model, {n: p[None] for n, p in case.params.items()}, case.inputs)
    np.testing.assert_array_equal(outputs[0], plain.outputs)
    value = loss_function(case)
    assert value(case.params) == float(losses.get(case.loss).value(np, plain.outputs, case.targets))


def test_a_batched_form_that_disagrees_with_the_loss_is_abandoned_for_the_loop():
    case = CASES[0]
    forms = loss_forms(case)

    def off(params, chunks):  # a batched path that drifted from `loss`
        right = forms.perturbed.at(params, chunks)
        return lambda name, flat_indices, deltas, kinks=False: right(name, flat_indices, deltas) + 1e-5 * deltas

    drifted = dataclasses.replace(forms, perturbed=PerturbedForm(off, forms.perturbed.chunks, chunks_itself=True))
    result = finite_difference("central", drifted, case.params)
    looped = finite_difference("central", without(forms, "perturbed"), case.params)
    assert_same_gradients(result, looped, case.params, rtol=0, atol=0)
    assert result.notes and "disagreed with the plain loss" in result.notes[0]
    assert not finite_difference("central", forms, case.params).notes


@pytest.mark.parametrize("method", ["central", "richardson", "complex", "sampled"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(c.network.activations) + "-" + c.loss)
def test_the_batched_forms_agree_with_the_loss_for_every_method(case, method):
    """A batched form that disagrees is only a slow path for the user (the loop takes over,
    with a note): here it is a failure."""
    forms = loss_forms(case)
    if method == "complex" and forms.complex_loss is None:
        pytest.skip(forms.not_analytic)
    result = finite_difference(method, forms, case.params)
    assert not [note for note in result.notes if "disagreed" in note]


@pytest.mark.parametrize("case", CASES[:3] + CASES[6:], ids=lambda c: "-".join(c.network.activations) + "-" + c.loss)
def test_both_rank_one_forms_equal_one_forward_per_network(case):
    """Few units per call (one product per run of networks sharing a unit) and many (one
    gathered product; for a sigmoid layer next, one gathered sum over the series)."""
    forms = loss_forms(case)
    perturbed = batched_at(forms, case.params)
    name = "layers.0.weight"
    size = case.params[name].size
    for indices in (np.repeat(np.arange(size), 2), np.tile(np.arange(size), MAX_RUNS + 2)):
        deltas = np.resize([1e-3, -2e-3], indices.size)
        batched = np.array(perturbed(name, indices, deltas))
        looped = one_forward_each(forms.loss, case.params, name, indices, deltas)
        np.testing.assert_allclose(batched, looped, rtol=1e-13, atol=1e-14)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=mlp_documents(max_depth=4, max_width=5, max_batch=6, train=False), data=st.data())
def test_perturbed_losses_equal_the_loop_on_any_shape(document, data):
    """The batched path falls back to the loop when it disagrees (with a note), which would hide
    a bug from the checker's own tests: compare it with the loop directly, on drawn shapes."""
    from refbp.cases import parse_case

    case = parse_case(document)
    forms = loss_forms(case)
    perturbed = batched_at(forms, case.params)
    for name, tensor in case.params.items():
        indices = np.sort(data.draw(st.lists(st.integers(0, tensor.size - 1), min_size=1, max_size=24)))
        deltas = np.resize([1e-4, -1e-4, 3e-3, -3e-3], indices.size)
        looped = one_forward_each(forms.loss, case.params, name, indices, deltas)
        np.testing.assert_allclose(perturbed(name, indices, deltas), looped, rtol=1e-12, atol=1e-14, err_msg=name)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=mlp_documents(max_depth=4, max_width=6, max_batch=6, train=False), data=st.data())
def test_the_series_after_a_sigmoid_layer_equals_the_loop_on_any_shape(document, data):
    """The last hidden layer made a sigmoid: perturbations of the layer before it take the
    series path of refbp.perturbed.series_paths (finite-difference sized steps), which must give the
    loop's losses."""
    from hypothesis import assume

    from refbp.cases import parse_case

    activations = document["network"]["activations"]
    assume(len(activations) >= 2)
    activations[-2] = "sigmoid"
    case = parse_case(document)
    forms = loss_forms(case)
    perturbed = batched_at(forms, case.params)
    name = data.draw(
        st.sampled_from(
            [n for n in case.params if n.startswith(f"layers.{len(activations) - 3}.")] or sorted(case.params)
        )
    )
    indices = np.repeat(np.arange(case.params[name].size), 2)
    deltas = np.resize([6e-6, -6e-6, 1e-4, -1e-4], indices.size)
    looped = np.array(one_forward_each(forms.loss, case.params, name, indices, deltas))
    batched = perturbed(name, indices, deltas)
    np.testing.assert_allclose(batched, looped, rtol=1e-12, atol=1e-14, err_msg=name)
    # The changes themselves, which finite differences divide by the step: to the loop's own
    # rounding of the two losses, not just to digits of the loss.
    base = forms.loss(case.params)
    rounding = 64 * np.finfo(float).eps * max(abs(base), 1e-300)
    np.testing.assert_allclose(batched - base, looped - base, rtol=1e-9, atol=rounding, err_msg=name)


def test_entries_out_of_range_are_an_error_not_a_clipped_gather():
    case = CASES[0]
    perturbed = batched_at(loss_forms(case), case.params)
    size = case.params["layers.0.weight"].size
    with pytest.raises(IndexError, match=r"layers\.0\.weight"):
        perturbed("layers.0.weight", np.array([0, size]), np.array([1e-6, 1e-6]))


def test_a_series_table_too_large_to_keep_falls_back_to_the_direct_path(monkeypatch):
    case = CASES[6]  # tanh-sigmoid-identity: the output nets by series when the table fits
    forms = loss_forms(case)
    indices = np.repeat(np.arange(case.params["layers.0.weight"].size), 2)
    deltas = np.resize([6e-6, -6e-6], indices.size)
    looped = one_forward_each(forms.loss, case.params, "layers.0.weight", indices, deltas)
    for limit in (series_paths.SERIES_FLOATS, 1):
        monkeypatch.setattr(series_paths, "SERIES_FLOATS", limit)
        batched = batched_at(forms, case.params)("layers.0.weight", indices, deltas)
        np.testing.assert_allclose(batched, looped, rtol=1e-13, atol=1e-14)
