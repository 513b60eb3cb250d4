"""The agreement check of refbp.oracle.fd (refbp.oracle.fd.agreement): a planted error in a fast path of
refbp.perturbed (a NaN, a wrong sign, a series coefficient off by 1e-6, a bug in one chunk
only, a bug that only shows where the loss moves) is caught, the plain loop takes over with
a note, and the finite differences are the loop's; never a silent pass."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from refbp.check.check_case import finite_difference_checks
from refbp.loss_forms import PerturbedForm
from refbp.nn import compute_trace
from refbp.oracle.fd import finite_difference
from refbp.oracle.fd.agreement import AGREEMENT_ULPS, sampled_points
from refbp.perturbed import loss_forms, series, series_paths
from refbp.perturbed.perturbed_losses import PerturbedLosses
from refbp.trace import Trace
from test_perturbed import CASES, assert_same_gradients, small_case, without

SIGMOID_CASES = {"exp series": CASES[8], "output series": CASES[6]}  # where each series path runs
CHUNK = 6


def small_chunks(forms, chunk=CHUNK):
    """`forms` whose batched form runs every tensor in chunks of `chunk` perturbations."""
    return dataclasses.replace(
        forms, perturbed=dataclasses.replace(forms.perturbed, chunks=dict.fromkeys(forms.perturbed.chunks, chunk))
    )


def planted_form(forms, plant):
    """`forms` whose batched values pass through plant(name, indices, deltas, values, right) -> values."""

    def at(params, chunks):
        right = forms.perturbed.at(params, chunks)

        def losses(name, flat_indices, deltas, kinks=False):
            if kinks:
                values, nets = right(name, flat_indices, deltas, kinks=True)
                return plant(name, flat_indices, deltas, values, right), nets
            return plant(name, flat_indices, deltas, right(name, flat_indices, deltas), right)

        return losses

    return dataclasses.replace(forms, perturbed=PerturbedForm(at, forms.perturbed.chunks, chunks_itself=True))


def assert_caught(planted, forms, params, method="central", words="disagreed"):
    """The planted form is abandoned with a note, and the tensors it names are the plain loop's
    (the others keep the batched values, a rounding away from the loop's)."""
    result = finite_difference(method, planted, params)
    assert any(words in note for note in result.notes), result.notes
    looped = finite_difference(method, without(forms, "perturbed", "complex_perturbed"), params)
    named = [name for name in params if any(f" at {name} entry " in note for note in result.notes)]
    assert named
    assert_same_gradients(result, looped, named, rtol=0, atol=0)
    assert_same_gradients(result, looped, params, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("case", CASES[:4], ids=lambda c: "-".join(c.network.activations))
def test_a_nan_from_the_batched_form_is_a_disagreement(case):
    forms = loss_forms(case)

    def one_nan(name, indices, deltas, values, right):
        values = np.array(values)
        values[len(values) // 3] = np.nan
        return values

    assert_caught(planted_form(forms, one_nan), forms, case.params, words="non-finite")


def test_a_batched_form_that_gives_nan_cannot_pass_a_wrong_gradient():
    """The issue's finding: NaN everywhere from the fast path made a gradient 1% off pass with
    no entry judged. Now the loop takes over and the wrong gradient fails."""
    case = CASES[0]
    forms = loss_forms(case)
    nan_form = planted_form(forms, lambda name, indices, deltas, values, right: np.full(len(values), np.nan))
    wrong = {n: 1.01 * g for n, g in compute_trace(case).grads.items()}
    rows = finite_difference_checks(case, Trace(outputs=None, loss=0.0, grads=wrong), nan_form, "central")
    assert rows and not any(r.passed for r in rows)
    assert all(r.checked == np.size(case.params[r.tensor]) for r in rows)  # every entry judged


def test_a_loss_that_is_not_finite_fails_its_row_instead_of_leaving_entries_out():
    case = CASES[0]
    forms = without(loss_forms(case), "perturbed")
    limit = float(case.params["layers.1.bias"][0])

    def loss(params):  # not finite once layers.1.bias[0] moves up: its +h point is NaN
        return float("nan") if params["layers.1.bias"][0] > limit else forms.loss(params)

    rows = finite_difference_checks(case, compute_trace(case), dataclasses.replace(forms, loss=loss), "central")
    failed = {r.tensor: r.note for r in rows if not r.passed}
    assert list(failed) == ["layers.1.bias"]
    assert "1 failed (no finite finite difference" in failed["layers.1.bias"]


@pytest.mark.parametrize("chunk_index", range(5))
def test_a_wrong_sign_in_one_chunk_only_is_caught(chunk_index):
    """layers.0.weight has 15 entries, 30 points: chunks 0..4 of 6. Each chunk is sampled."""
    case = CASES[0]
    forms = loss_forms(case)

    def flipped(name, indices, deltas, values, right):
        if name != "layers.0.weight":
            return values
        values = np.array(values)
        part = slice(chunk_index * CHUNK, (chunk_index + 1) * CHUNK)
        values[part] = right(name, indices[part], -deltas[part])
        return values

    assert_caught(small_chunks(planted_form(forms, flipped)), forms, case.params)


@pytest.mark.parametrize("chunk_index", range(5))
def test_a_bug_inside_one_chunk_of_the_form_is_caught(chunk_index, monkeypatch):
    """The bug sits in the form's own chunk loop (PerturbedLosses.outputs), in one chunk."""
    case = CASES[0]
    forms = small_chunks(loss_forms(case))
    real = PerturbedLosses.outputs
    calls = []

    def outputs(self, change, want_nets=False):
        values, nets = real(self, change, want_nets)
        calls.append(change.units.size)
        if len(calls) == chunk_index + 1:  # the first tensor's chunk `chunk_index`
            values += 1e-9
        return values, nets

    monkeypatch.setattr(PerturbedLosses, "outputs", outputs)
    assert_caught(forms, loss_forms(case), case.params)


def test_a_bug_where_the_loss_moves_is_caught_though_most_entries_do_not_move_it():
    """A relu layer with dead units: most of its weights move the loss by 0 ulp, and a check
    that samples them agrees whatever the bug; the points that move the loss are preferred."""
    case = small_case(("relu", "identity"), loss="half_sse")
    case.params["layers.0.bias"][:] = -100.0  # every unit dead but the first
    case.params["layers.0.bias"][0] = 100.0
    forms = loss_forms(case)
    base = forms.loss(case.params)

    def scaled(name, indices, deltas, values, right):  # every change of the loss 1e-6 too large
        return base + (np.asarray(values) - base) * (1.0 + 1e-6)

    assert_caught(planted_form(without(forms, "probe"), scaled), without(forms, "probe"), case.params)


@pytest.mark.parametrize("path", SIGMOID_CASES)
def test_a_series_coefficient_off_by_1e_6_is_caught(path, monkeypatch):
    case = SIGMOID_CASES[path]
    forms = loss_forms(case)
    if path == "exp series":
        real = series_paths._exp_coefficients

        def off(base, layer, terms):
            coefficients = real(base, layer, terms).copy()
            coefficients[1] *= 1.0 + 1e-6  # -weight, the linear term of e^-(weight * change)
            return coefficients

        monkeypatch.setattr(series_paths, "_exp_coefficients", off)
    else:
        table = series._composition_table().copy()
        table[0, 0] *= 1.0 + 1e-6  # the linear coefficient D_1 = s (1 - s)
        monkeypatch.setattr(series, "_composition_table", lambda: table)
    assert_caught(loss_forms(case), forms, case.params)


@pytest.mark.parametrize("path", SIGMOID_CASES)
def test_each_series_path_is_taken_by_its_case(path):
    """The cases above exercise the path they name (else the planted coefficient proves nothing)."""
    case = SIGMOID_CASES[path]
    runner = loss_forms(case).perturbed.at({n: np.asarray(p, float) for n, p in case.params.items()}, {})
    taken = set()
    for name, tensor in case.params.items():
        runner(name, np.arange(tensor.size), np.full(tensor.size, 1e-5))
        taken |= {p for _, _, p in runner.chunk_paths}
    assert any(path in p for p in taken), taken


def test_every_chunk_is_sampled_and_points_that_move_the_loss_are_preferred():
    values = np.zeros(40)
    values[[3, 17, 29]] = 1.0  # the only points that moved the loss (base 0)
    picks = sampled_points(values, 0.0, chunk=10, points=2)
    assert {p // 10 for p in picks} == {0, 1, 2, 3}
    assert {3, 17} <= set(picks)


def test_the_tolerance_is_far_below_what_rounding_leaves_and_clean_forms_stay_inside_it():
    """Clean forms agree with the loss at every sampled point of every case (no note), with a
    tolerance of AGREEMENT_ULPS: clean forms measured at a few ulps (tests/test_perturbed.py
    checks every method on every case; this pins the number)."""
    assert AGREEMENT_ULPS <= 16
    for case in CASES:
        assert not finite_difference("central", small_chunks(loss_forms(case), 4), case.params).notes
