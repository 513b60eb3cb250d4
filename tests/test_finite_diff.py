"""refbp.oracle.fd: each method on functions with known derivatives, error estimates, the kink
detector on relu networks placed at and near 0, and the complex step's refusal."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from refbp.cases import Case, MLPNetwork
from refbp.oracle.fd import ComplexStepRefused, LossForms, finite_difference
from refbp.oracle.fd.kinks import crossed_unit
from refbp.perturbed import loss_forms

# f(p) = sum sin(a * w) + sum exp(b / 2) + w[0, 0] * w[1, 1] * b[0]: analytic, coupled, with
# known gradient, on a weight-like and a bias-like tensor (values of both signs and |x| > 1).
A = np.array([[0.7, -1.3, 2.0], [0.4, 1.1, -0.6]])
PARAMS = {"w": np.array([[0.3, -1.7, 2.5], [-0.2, 0.9, 1.4]]), "b": np.array([0.5, -3.0, 1.2])}


def loss(params):
    w, b = params["w"], params["b"]
    return np.sum(np.sin(A * w)) + np.sum(np.exp(b / 2.0)) + w[0, 0] * w[1, 1] * b[0]


def exact_gradient(params):
    w, b = params["w"], params["b"]
    gw = A * np.cos(A * w)
    gw[0, 0] += w[1, 1] * b[0]
    gw[1, 1] += w[0, 0] * b[0]
    gb = np.exp(b / 2.0) / 2.0
    gb[0] += w[0, 0] * w[1, 1]
    return {"w": gw, "b": gb}


@pytest.mark.parametrize("method, bound", [("central", 1e-8), ("richardson", 1e-11), ("complex", 1e-14)])
def test_entrywise_methods_match_the_analytic_gradient(method, bound):
    result = finite_difference(method, LossForms(loss, complex_loss=loss), PARAMS)
    exact = exact_gradient(PARAMS)
    for name, g in exact.items():
        error = np.abs(result.grads[name] - g)
        assert np.max(error / np.maximum(np.abs(g), 1.0)) < bound, (method, name, error)
        # the per-entry estimate covers the actual error
        assert np.all(error <= result.errors[name]), (method, name, error, result.errors[name])
        assert np.all(result.steps[name] > 0)
    assert result.method == method


def test_steps_scale_with_the_entry_and_the_order():
    central = finite_difference("central", LossForms(loss), PARAMS)
    richardson = finite_difference("richardson", LossForms(loss), PARAMS)
    assert central.steps["w"][0, 2] == pytest.approx(
        2.5 * central.steps["w"][0, 0] / 1.0, rel=1e-6
    )  # |2.5| vs max(1,|0.3|)
    assert np.all(richardson.steps["w"] > 100 * central.steps["w"])  # higher order: larger step


def test_directional_matches_the_projection_of_the_analytic_gradient():
    result = finite_difference("directional", LossForms(loss), PARAMS, directions=5, seed=3)
    exact = exact_gradient(PARAMS)
    assert len(result.directions) == 5 and result.evaluations == 11
    for u, d, e in zip(result.directions, result.directional, result.directional_errors):
        assert sum(np.sum(u[n] * u[n]) for n in u) == pytest.approx(1.0)
        projection = sum(np.sum(exact[n] * u[n]) for n in exact)
        assert abs(d - projection) <= e


def test_sampled_evaluates_n_entries_per_tensor_and_every_bias_entry():
    params = {"w": np.linspace(-1, 1, 40).reshape(5, 8), "b": np.linspace(0.1, 0.9, 5)}

    def quadratic(p):
        return 0.5 * np.sum(p["w"] ** 2) + np.sum(p["b"] ** 3)

    result = finite_difference("sampled", LossForms(quadratic), params, samples=6, seed=1)
    evaluated = ~np.isnan(result.grads["w"])
    assert evaluated.sum() == 6
    assert not np.isnan(result.grads["b"]).any()
    assert np.allclose(result.grads["w"][evaluated], params["w"][evaluated], atol=1e-9)
    assert np.allclose(result.grads["b"], 3 * params["b"] ** 2, atol=1e-9)


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="unknown finite-difference method"):
        finite_difference("forward", LossForms(loss), PARAMS)


# ---- the complex step is refused on networks that are not analytic ---------------------------


def relu_case(net_value: float, batch_rows=None) -> Case:
    """A 2-2-1 relu network whose hidden unit 1 has pre-activation `net_value` on example 0."""
    network = MLPNetwork(sizes=(2, 2, 1), activations=("relu", "identity"))
    params = {
        "layers.0.weight": np.array([[0.6, -0.4], [0.0, 0.5]]),
        "layers.0.bias": np.array([0.1, net_value]),
        "layers.1.weight": np.array([[0.7, -1.2]]),
        "layers.1.bias": np.array([0.05]),
    }
    inputs = np.array([[1.0, 0.0], [0.3, 2.0]]) if batch_rows is None else batch_rows
    return Case(
        id="relu-kink",
        network=network,
        loss="half_sse",
        params=params,
        inputs=inputs,
        targets=np.array([[0.2], [-0.4]]),
    )


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "elu"])
def test_complex_step_is_refused_on_kinked_networks(activation):
    case = relu_case(0.3)
    case = Case(
        id=case.id,
        network=MLPNetwork(sizes=(2, 2, 1), activations=(activation, "identity")),
        loss=case.loss,
        params=case.params,
        inputs=case.inputs,
        targets=case.targets,
    )
    forms = loss_forms(case)
    assert forms.complex_loss is None
    with pytest.raises(ComplexStepRefused, match=f"not analytic.*{activation}"):
        finite_difference("complex", forms, case.params)


def test_complex_step_without_a_complex_loss_is_refused():
    with pytest.raises(ComplexStepRefused, match="complex"):
        finite_difference("complex", LossForms(loss), PARAMS)


# ---- kinks: relu units exactly at 0, near 0, and away from 0 --------------------------------


def batched_or_not(forms: LossForms, batched: bool) -> LossForms:
    return forms if batched else dataclasses.replace(forms, perturbed=None)


@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("method", ["central", "richardson", "sampled"])
def test_a_unit_exactly_at_its_kink_is_reported_not_judged(batched, method):
    case = relu_case(0.0)  # hidden unit 1, example 0: 0 * 1 + 0.5 * 0 + 0 = 0 exactly
    result = finite_difference(method, batched_or_not(loss_forms(case), batched), case.params)
    kinks = result.kinks["layers.0.weight"]
    # moving w[1][0] (times x = 1) or b[1] moves the unit off 0; w[1][1] (times x = 0) does not
    assert kinks[(1, 0)] == "layers.0.net[0][1]"
    assert (1, 1) not in kinks and (0, 0) not in kinks
    assert result.kinks["layers.0.bias"] == {(1,): "layers.0.net[0][1]"}


@pytest.mark.parametrize("batched", [True, False])
def test_a_unit_near_its_kink_is_reported_only_when_the_stencil_reaches_it(batched):
    near = relu_case(1e-7)  # within the central step (~6e-6): crossed
    far = relu_case(1e-3)  # beyond it: an ordinary, differentiable point
    for case, expect in ((near, True), (far, False)):
        result = finite_difference("central", batched_or_not(loss_forms(case), batched), case.params)
        assert ((1,) in result.kinks.get("layers.0.bias", {})) is expect
    # Richardson's wider stencil (up to 4 x 2.9e-3) reaches the unit at 1e-3
    assert (1,) in finite_difference("richardson", loss_forms(far), far.params).kinks["layers.0.bias"]


def test_directional_reports_a_direction_that_crosses_a_kink():
    case = relu_case(0.0)
    forms = loss_forms(case)
    for stacked in (forms.stacked, None):
        result = finite_difference("directional", dataclasses.replace(forms, stacked=stacked), case.params)
        # every random direction moves b[1], so every one moves the unit at 0
        assert set(result.directional_kinks) == set(range(4))
        assert set(result.directional_kinks.values()) == {"layers.0.net[0][1]"}


def test_directional_names_only_the_direction_whose_point_crosses():
    """A unit whose pre-activation is <p' - p, u_2> - h/2: only p + h u_2 moves it across 0."""
    rng = np.random.default_rng(5)
    params = {"w": rng.standard_normal((8, 8)), "b": rng.standard_normal(8)}
    flat = np.concatenate([params["w"].reshape(-1), params["b"]])
    u2 = np.random.default_rng(0).standard_normal((4, flat.size))[2]
    u2 /= np.linalg.norm(u2)

    def loss_of_sum(point):
        return float(np.sum(point["w"]) + np.sum(point["b"]))

    h = finite_difference("directional", LossForms(loss_of_sum), params).directional_step

    def probe(point):
        moved = np.concatenate([point["w"].reshape(-1), point["b"]]) - flat
        return {"layers.0.net": np.array([[moved @ u2 - h / 2]])}

    result = finite_difference("directional", LossForms(loss_of_sum, probe), params)
    assert result.directional_kinks == {2: "layers.0.net[0][0]"}


def test_the_checker_leaves_kinked_entries_unjudged_and_names_the_unit():
    from refbp.check import check_case

    verdict = check_case(relu_case(0.0), oracles=("fd",), fd_method="central")
    assert verdict.passed
    row = next(c for c in verdict.checks if c.tensor == "layers.0.weight")
    assert row.nondifferentiable == 1 and row.checked == 3
    assert "1 not judged (at a kink)" in row.note and "layers.0.net[0][1]" in row.note
    # no torch row judges it here (--oracle fd): inconclusive, never a pass
    assert row.inconclusive == 1 and verdict.state.value == "inconclusive"
    assert row.method == "central" and row.step > 0 and row.error_estimate > 0


def test_crossed_unit_compares_each_point_with_the_base():
    base = {"layers.0.net": np.array([[0.0, 1.0], [-2.0, 3.0]])}
    assert crossed_unit(base, {"layers.0.net": np.array([[0.0, 1.5], [-1.0, 3.0]])}) is None
    assert crossed_unit(base, {"layers.0.net": np.array([[1e-9, 1.0], [-2.0, 3.0]])}) == "layers.0.net[0][0]"
    assert crossed_unit(base, {"layers.0.net": np.array([[0.0, 1.0], [2.0, 3.0]])}) == "layers.0.net[1][0]"
