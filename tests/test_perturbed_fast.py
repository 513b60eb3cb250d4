"""The fast path of refbp.perturbed for every elementwise activation: the output nets by a
change series through the last hidden layer (refbp.perturbed.activation_change), the kinks
ruled out by margins (refbp.perturbed.kink_margins), the networks near a kink redone by the
direct path. Each gives the plain forward's losses on drawn shapes and the loop's kinks, and
a planted error (a dropped term, margins that miss a crossing) fails a test here; the
agreement check's catches are in tests/test_perturbed_fast_planted.py."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from refbp.cases import parse_case
from refbp.nn import activations, build_model
from refbp.oracle.fd import finite_difference
from refbp.perturbed import activation_change, loss_forms, perturbed_losses, series, series_paths
from refbp.perturbed.base import Base
from refbp.perturbed.moved import moved
from refbp.testing.strategies import HIDDEN_ACTIVATIONS, mlp_documents
from test_fd_agreement import small_chunks
from test_perturbed import assert_same_gradients, batched_at, one_forward_each, small_case, without

EPS = np.finfo(np.float64).eps
ELEMENTWISE = tuple(name for name in HIDDEN_ACTIVATIONS)
# One case per hidden activation: its layer 1 is the last hidden layer, so layer 0's
# perturbations take the output series through it, layer 1's the rank-one straight path.
FAST_CASES = {name: small_case(("tanh", name, "sigmoid"), loss="half_sse", seed=4) for name in ELEMENTWISE}
FAST_CASES["mixed"] = small_case(("relu", "tanh", "identity"), loss="cross_entropy", classes=True, seed=5)


def paths_taken(case, deltas=(6e-6, -6e-6)) -> set:
    runner = batched_at(loss_forms(case), {n: np.asarray(p, float) for n, p in case.params.items()})
    taken = set()
    for name, tensor in case.params.items():
        runner(name, np.repeat(np.arange(tensor.size), len(deltas)), np.resize(deltas, len(deltas) * tensor.size))
        taken |= {p for _, _, p in runner.chunk_paths}
    return taken


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_every_activation_takes_the_output_series(name):
    assert f"output series through {name}" in paths_taken(FAST_CASES[name])


@pytest.mark.parametrize("name", ELEMENTWISE)
@pytest.mark.parametrize("x", [1e-2, -1e-2, 6e-6, -3e-5])
def test_each_change_series_gives_the_forward_to_rounding(name, x):
    """One side at a time (a dropped odd or even term cannot cancel), against refbp's own forward
    at z + x, wherever z + x stays on z's side of 0 (the kinked ones' pieces)."""
    activation = activations.get(name)
    z = np.concatenate([np.linspace(-20.0, 20.0, 161), [-1e-3, 1e-3, -700.0, 700.0]])
    out = activation.forward(np, z)
    terms = activation_change.change_terms(activation, abs(x))
    coefficients = activation_change.change_coefficients(activation, z, out, terms)
    moved = out + sum(coefficients[n] * x ** (n + 1) for n in range(terms))
    exact = activation.forward(np, z + x)
    same_side = np.sign(z + x) == np.sign(z) if activation.kinked else np.ones(z.shape, bool)
    np.testing.assert_allclose(moved[same_side], exact[same_side], rtol=16 * EPS, atol=16 * EPS)


CUT = 2.0**-16
# Steps where several terms count and the series is still short (tanh's is in 2x).
SPAN = {"tanh": (0.015, 0.03)}


def _one_sided_output_error(name: str, sign: float, monkeypatch) -> float:
    """The output series through a `name` layer at deltas of one sign only (central differences
    would cancel its even terms), with the series cut at CUT: its largest error against the
    plain forward's outputs (an identity output layer: outputs are the output nets)."""
    monkeypatch.setattr(series, "TOLERANCE", CUT)
    case = small_case(("tanh", name, "identity"), seed=6)
    params = {n: np.asarray(p, dtype=np.float64) for n, p in case.params.items()}
    base = Base(build_model(case.network), params, np.asarray(case.inputs, dtype=np.float64))
    size = params["layers.0.weight"].size
    deltas = sign * np.linspace(*SPAN.get(name, (0.03, 0.06)), size)
    change = moved(base, "layers.0.weight", np.arange(size), deltas)
    outputs = np.empty(change.delta_out.shape + (3,))
    assert series_paths.output_nets_by_series(base, 1, change, outputs)
    plain = np.array(
        [
            base.model.forward(np, params_moved, base.forward.inputs).outputs
            for params_moved in _moved_params(params, "layers.0.weight", deltas)
        ]
    )
    return float(np.max(np.abs(outputs - plain)))


def _moved_params(params, name, deltas):
    for i, d in enumerate(deltas):
        moved_params = {n: p.copy() for n, p in params.items()}
        moved_params[name].reshape(-1)[i] += d
        yield moved_params


@pytest.mark.parametrize("sign", [1.0, -1.0])
@pytest.mark.parametrize("name", ["sigmoid", "tanh", "softplus", "elu"])
def test_a_dropped_last_term_of_the_output_series_is_seen_one_sided(name, sign, monkeypatch):
    """Through the path itself, one side at a time: with every term its error stays within the
    cut; with its last coefficient dropped, at least twice as large."""
    error = _one_sided_output_error(name, sign, monkeypatch)
    assert error <= CUT
    _planted_coefficients(monkeypatch, _drop_last_term)
    assert _one_sided_output_error(name, sign, monkeypatch) > 2 * error + 64 * EPS


def _drop_last_term(coefficients):
    coefficients[-1] = 0.0
    return coefficients


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(ELEMENTWISE), data=st.data())
def test_the_fast_path_equals_the_loop_on_any_shape(name, data):
    """Drawn MLPs whose hidden layers use each activation in turn: every tensor's perturbations
    (the output series, the straight rank-one path, the networks redone near a kink) give the
    plain forward's losses, and their changes to the loop's rounding."""
    document = data.draw(mlp_documents(max_depth=3, max_width=5, max_batch=6, train=False, hidden_activations=(name,)))
    assume(len(document["network"]["activations"]) >= 2)
    case = parse_case(document)
    forms = loss_forms(case)
    perturbed = batched_at(forms, case.params)
    base = forms.loss(case.params)
    for tensor_name, tensor in case.params.items():
        indices = np.repeat(np.arange(tensor.size), 4)
        deltas = np.resize([6e-6, -6e-6, 3e-3, -3e-3], indices.size)
        looped = np.array(one_forward_each(forms.loss, case.params, tensor_name, indices, deltas))
        batched = perturbed(tensor_name, indices, deltas)
        np.testing.assert_allclose(batched, looped, rtol=1e-12, atol=1e-14, err_msg=tensor_name)
        rounding = 64 * EPS * max(abs(base), 1e-300)
        np.testing.assert_allclose(batched - base, looped - base, rtol=1e-9, atol=rounding, err_msg=tensor_name)


KINKED_CASES = [small_case(("relu", "relu", "sigmoid"), seed=s) for s in range(3)] + [
    small_case(("leaky_relu", "elu", "identity"), loss="mse", seed=7),
    small_case(("elu", "relu", "identity"), loss="cross_entropy", classes=True, seed=8),
]


@pytest.mark.parametrize("case", KINKED_CASES, ids=lambda c: "-".join(c.network.activations))
@pytest.mark.parametrize("step", [6e-6, 0.05])
def test_the_kinks_ruled_out_by_margins_are_the_loops(case, step):
    """Every network the margins let through crosses no kink: the kinks reported with the fast
    path are the loop's, at a finite-difference step and at a step large enough to cross many."""
    forms = loss_forms(case)
    perturbed = batched_at(forms, case.params)
    probe_base = forms.probe(case.params)
    for name, tensor in case.params.items():
        indices = np.repeat(np.arange(tensor.size), 2)
        deltas = np.resize([step, -step], indices.size)
        values, nets = perturbed(name, indices, deltas, kinks=True)
        crossed = _crossed_by_the_loop(forms, case.params, name, indices, deltas, probe_base)
        reported = {int(r) for r in getattr(nets, "rows", range(len(indices)))}
        assert set(np.flatnonzero(crossed)) <= reported, name  # every crossing network was redone
        looped = one_forward_each(forms.loss, case.params, name, indices, deltas)
        np.testing.assert_allclose(values, looped, rtol=1e-12, atol=1e-14, err_msg=name)


def _crossed_by_the_loop(forms, params, name, indices, deltas, probe_base) -> np.ndarray:
    crossed = []
    for i, d in zip(indices, deltas):
        moved = {n: p.copy() for n, p in params.items()}
        moved[name].reshape(-1)[i] += d
        probe = forms.probe(moved)
        crossed.append(any(np.any(np.sign(probe[k]) != np.sign(v)) for k, v in probe_base.items()))
    return np.array(crossed)


def test_margins_that_miss_a_crossing_fail_the_test_above(monkeypatch):
    """The test above has teeth: margins that rule out every crossing let crossing networks through."""
    case = KINKED_CASES[0]
    monkeypatch.setattr(perturbed_losses, "may_cross", lambda base, change, *kinked: np.zeros(len(change.units), bool))
    with pytest.raises(AssertionError):
        test_the_kinks_ruled_out_by_margins_are_the_loops(case, 0.05)


@pytest.mark.parametrize("case", KINKED_CASES[:3], ids=lambda c: "-".join(c.network.activations))
def test_finite_differences_with_the_fast_path_equal_the_loop(case):
    forms = loss_forms(case)
    for method in ("central", "richardson"):
        batched = finite_difference(method, forms, case.params)
        looped = finite_difference(method, without(forms, "perturbed"), case.params)
        assert batched.kinks == looped.kinks
        assert not batched.notes
        assert_same_gradients(batched, looped, case.params, rtol=1e-6, atol=1e-9)


def _planted_coefficients(monkeypatch, plant):
    real = activation_change.change_coefficients

    def planted(activation, net, out, terms):
        return plant(np.array(real(activation, net, out, terms)))

    monkeypatch.setattr(series_paths, "change_coefficients", planted)


def test_the_series_table_holds_zero_padding_for_products_of_inner_size_two():
    """A linear piece has one term; the stored table pads it with an exact zero term."""
    case = FAST_CASES["relu"]
    perturbed = batched_at(loss_forms(case), case.params)
    perturbed("layers.0.weight", np.arange(4), np.full(4, 1e-5))
    stored = [value for key, value in perturbed.base.derived.items() if key[0] == "output change series"]
    assert stored and all(math.isclose(0.0, float(np.max(np.abs(table[:, :, 1:]))), abs_tol=0.0) for table in stored)


def test_a_call_in_memory_bounded_parts_gives_the_same_losses_and_paths(monkeypatch):
    """A call with more networks than MOVED_FLOATS allows runs in parts: the same losses, and
    chunk_paths that cover every network (the agreement check samples by them)."""
    case = FAST_CASES["tanh"]
    forms = loss_forms(case)
    name = "layers.0.weight"
    indices = np.repeat(np.arange(case.params[name].size), 2)
    deltas = np.resize([1e-3, -1e-3], indices.size)
    whole = batched_at(forms, case.params)(name, indices, deltas)
    monkeypatch.setattr(perturbed_losses, "MOVED_FLOATS", 2 * case.batch)
    perturbed = batched_at(small_chunks(forms, 4), case.params)
    np.testing.assert_allclose(perturbed(name, indices, deltas), whole, rtol=1e-15, atol=0)
    covered = np.zeros(indices.size, bool)
    for start, stop, _ in perturbed.chunk_paths:
        covered[start:stop] = True
    assert covered.all() and len(perturbed.chunk_paths) > 1
