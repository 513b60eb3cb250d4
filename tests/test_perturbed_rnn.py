"""refbp.perturbed's batched RNN form (rnn_losses): the losses of S perturbed RNNs evaluated
together equal one refbp forward per network (to rounding) on drawn shapes, every feature and
path (readouts, truncation, h0, relu kinks); a planted error in it (a NaN, a wrong sign, a bug
in one chunk only, a wrong step) is caught by refbp.oracle.fd's agreement check, and the plain loop
takes over."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import test_fd_agreement as agreement_tests
from refbp.cases import SUITE_DIR, Case, RNNNetwork, load_case, parse_case
from refbp.oracle.fd import finite_difference
from refbp.oracle.fd.agreement import AGREEMENT_ULPS
from refbp.oracle.fd.kinks import crossed_unit, crossed_units_stacked
from refbp.perturbed import loss_forms
from refbp.perturbed.rnn_losses import RNNPerturbedLosses
from refbp.testing.strategies import rnn_documents
from test_fd_agreement import assert_caught, planted_form, small_chunks
from test_perturbed import assert_same_gradients, one_forward_each, without

RNN_CASES = sorted((SUITE_DIR / "rnn").glob("*.json"))
EPS = np.finfo(np.float64).eps


def rnn_case(
    nonlinearity="tanh",
    readout="every_step",
    truncate=None,
    h0=False,
    loss="mse",
    output_activation="identity",
    steps=6,
    seed=0,
) -> Case:
    network = RNNNetwork(
        3, 5, 2, nonlinearity=nonlinearity, output_activation=output_activation, readout=readout, truncate=truncate
    )
    rng = np.random.default_rng(seed)
    params = {name: 0.6 * rng.standard_normal(shape) for name, shape in network.param_shapes().items()}
    lead = (4, steps) if readout == "every_step" else (4,)
    targets = rng.integers(0, 2, size=lead) if loss == "cross_entropy" else rng.uniform(0.1, 0.9, lead + (2,))
    return Case(
        id="batched-rnn",
        network=network,
        loss=loss,
        params=params,
        inputs=rng.standard_normal((4, steps, 3)),
        targets=targets,
        h0=rng.standard_normal((4, 5)) if h0 else None,
    )


CASES = {
    "tanh-every": rnn_case(),
    "relu-last-h0": rnn_case("relu", "last_step", h0=True, loss="half_sse"),
    "tanh-truncated-last": rnn_case(readout="last_step", truncate=2, steps=7),
    "relu-truncated-every-sigmoid-bce": rnn_case("relu", truncate=3, loss="bce", output_activation="sigmoid"),
    "tanh-softmax-ce": rnn_case(loss="cross_entropy", output_activation="identity", h0=True),
}


def assert_equals_the_loop(case, points=None, chunk=None, kinks=False):
    """Every tensor, entries in `points` ({name: (indices, deltas)}, else each entry at +-1e-4):
    the batched losses are the plain loss's to AGREEMENT_ULPS of max(|L|, 1), and, with kinks,
    the crossed units are those the plain probe finds."""
    forms = loss_forms(case)
    params = {name: np.asarray(value, dtype=np.float64) for name, value in case.params.items()}
    chunks = forms.perturbed.chunks if chunk is None else dict.fromkeys(params, chunk)
    batched = forms.perturbed.at(params, chunks)
    base = forms.loss(params)
    base_units = forms.probe(params)
    for name, tensor in params.items():
        if points is None:
            indices, deltas = np.repeat(np.arange(tensor.size), 2), np.resize([1e-4, -1e-4], 2 * tensor.size)
        else:
            indices, deltas = points[name]
        looped = np.array(one_forward_each(forms.loss, params, name, indices, deltas))
        values = batched(name, indices, deltas)
        rounding = AGREEMENT_ULPS * EPS * max(abs(base), 1.0)
        np.testing.assert_allclose(values, looped, rtol=0, atol=rounding, err_msg=name)
        if kinks:  # one chunk per call: products of another width, rounded otherwise
            with_kinks, nets = batched(name, indices, deltas, kinks=True)
            np.testing.assert_allclose(with_kinks, looped, rtol=0, atol=rounding, err_msg=name)
            found = crossed_units_stacked(base_units, nets) if nets else [None] * indices.size
            for s, (i, delta) in enumerate(zip(indices, deltas)):
                moved = {n: v.copy() for n, v in params.items()}
                moved[name].reshape(-1)[i] += delta
                assert found[s] == crossed_unit(base_units, forms.probe(moved)), (name, i, delta)
    return batched


@pytest.mark.parametrize("path", RNN_CASES, ids=lambda p: p.stem)
def test_batched_rnn_losses_equal_one_forward_each_on_every_suite_case(path):
    assert_equals_the_loop(load_case(path), chunk=5)


@pytest.mark.parametrize("name", CASES)
def test_batched_rnn_losses_and_kinks_equal_the_loop_with_large_moves(name):
    """Moves of +-0.3 cross many relu kinks: the batched form names the same units as the probe."""
    case = CASES[name]
    points = {n: (np.repeat(np.arange(p.size), 2), np.resize([0.3, -0.3], 2 * p.size)) for n, p in case.params.items()}
    assert_equals_the_loop(case, points, chunk=7, kinks=True)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=rnn_documents(max_size=5, max_steps=7, max_batch=3), data=st.data())
def test_batched_rnn_losses_equal_the_loop_on_any_shape(document, data):
    """Drawn networks (tanh or relu, either readout, biases or not, truncated or not, h0 or not,
    every loss), drawn entries, steps and chunk sizes, with and without the kink probe."""
    case = parse_case(document)
    points = {}
    for name, tensor in case.params.items():
        indices = np.sort(data.draw(st.lists(st.integers(0, tensor.size - 1), min_size=1, max_size=12)))
        points[name] = (
            indices,
            np.resize(data.draw(st.sampled_from([[1e-6, -1e-6], [1e-3, -2e-3], [0.2, -0.1]])), indices.size),
        )
    assert_equals_the_loop(case, points, chunk=data.draw(st.integers(1, 9)), kinks=True)


def test_every_path_is_taken_by_the_cases_here():
    """The readout path, the full recurrence, a skipped first step (weight_hh after a zero
    state) and the last chunk alone (truncated, last-step readout): else the tests above prove
    nothing about a path."""
    taken = set()
    for case in CASES.values():
        batched = loss_forms(case).perturbed.at(case.params, {})
        for name, tensor in case.params.items():
            batched(name, np.arange(tensor.size), np.full(tensor.size, 1e-5))
            taken |= {path for _, _, path in batched.chunk_paths}
    assert "readout of the base's states" in taken
    assert "recurrence, 6 of 6 steps" in taken
    assert "recurrence, 5 of 6 steps" in taken  # tanh-every's weight_hh: h0 = 0
    assert "recurrence, 1 of 7 steps, last chunk only" in taken  # truncate 2, 7 steps: the last chunk is 1 step


def test_the_batched_rnn_form_gives_the_loops_finite_differences_with_no_note():
    for name, case in CASES.items():
        forms = loss_forms(case)
        for method in ("central", "richardson"):
            batched = finite_difference(method, small_chunks(forms, 5), case.params)
            looped = finite_difference(method, without(forms, "perturbed"), case.params)
            assert not batched.notes, (name, batched.notes)
            assert batched.kinks == looped.kinks, name
            assert_same_gradients(batched, looped, case.params, rtol=1e-7, atol=1e-10)


def test_entries_out_of_range_are_an_error():
    case = CASES["tanh-every"]
    batched = loss_forms(case).perturbed.at(case.params, {})
    with pytest.raises(IndexError):
        batched("rnn.weight_hh", np.array([0, 25]), np.array([1e-3, 1e-3]))


# ---- planted errors: the agreement check catches each, the loop takes over ------------------------


@pytest.mark.parametrize("name", ["tanh-every", "relu-last-h0"])
def test_a_nan_from_the_batched_rnn_form_is_caught(name):
    agreement_tests.test_a_nan_from_the_batched_form_is_a_disagreement(CASES[name])  # the MLPs' test, on an RNN


@pytest.mark.parametrize("chunk_index", range(4))
def test_a_wrong_sign_in_one_chunk_only_is_caught(chunk_index):
    """rnn.weight_hh has 25 entries, 50 points: chunks 0..8 of 6; the sign of chunk k's deltas flipped."""
    case = CASES["tanh-every"]
    forms = loss_forms(case)

    def flipped(tensor, indices, deltas, values, right):
        if tensor != "rnn.weight_hh":
            return values
        values = np.array(values)
        part = slice(2 * chunk_index * 6, (2 * chunk_index + 1) * 6)
        values[part] = right(tensor, indices[part], -deltas[part])
        return values

    assert_caught(small_chunks(planted_form(forms, flipped)), forms, case.params)


@pytest.mark.parametrize("chunk_index", [0, 3, 7])
def test_a_bug_inside_one_chunk_of_the_form_is_caught(chunk_index, monkeypatch):
    """The bug sits in the form's own chunk loop (RNNPerturbedLosses.outputs), in one chunk only."""
    case = CASES["relu-last-h0"]
    forms = small_chunks(loss_forms(case))
    real = RNNPerturbedLosses.outputs
    calls = []

    def outputs(self, name, flat_indices, deltas, kinks):
        values, nets, path = real(self, name, flat_indices, deltas, kinks)
        calls.append(name)
        if len(calls) == chunk_index + 1:
            values = values + 1e-9
        return values, nets, path

    monkeypatch.setattr(RNNPerturbedLosses, "outputs", outputs)
    assert_caught(forms, loss_forms(case), case.params)


@pytest.mark.parametrize("name", ["tanh-every", "tanh-truncated-last"])
def test_a_wrong_step_is_caught(name, monkeypatch):
    """weight_ih's own term read from the step before (x_{t-1}[i] in place of x_t[i])."""
    case = CASES[name]
    real = RNNPerturbedLosses._own_term

    def own_term(self, kind, columns, t, state):
        return real(self, kind, columns, t - 1 if kind == "weight_ih" else t, state)

    monkeypatch.setattr(RNNPerturbedLosses, "_own_term", own_term)
    assert_caught(loss_forms(case), loss_forms(case), case.params)
