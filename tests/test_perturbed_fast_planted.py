"""Planted errors in the fast path of refbp.perturbed (tests/test_perturbed_fast.py) are caught
by the agreement check of refbp.oracle.fd: a change coefficient off by 1e-6 for every activation, a
wrong sign, a NaN, a bug in one chunk of the output series, a bug only in the networks redone
near a kink. Never a silent pass: the plain loop takes over, with a note."""

from __future__ import annotations

import numpy as np
import pytest

from refbp.oracle.fd import finite_difference
from refbp.perturbed import loss_forms, series_paths
from refbp.perturbed.perturbed_losses import PerturbedLosses
from test_fd_agreement import assert_caught, small_chunks
from test_perturbed_fast import ELEMENTWISE, FAST_CASES, KINKED_CASES, _planted_coefficients, paths_taken


@pytest.mark.parametrize("name", ELEMENTWISE + ("mixed",))
def test_a_change_coefficient_off_by_1e_6_is_caught(name, monkeypatch):
    case = FAST_CASES[name]
    forms = loss_forms(case)

    def off(coefficients):
        coefficients[0] *= 1.0 + 1e-6
        return coefficients

    _planted_coefficients(monkeypatch, off)
    assert_caught(loss_forms(case), forms, case.params)


@pytest.mark.parametrize("name", ["relu", "tanh", "softplus"])
def test_a_wrong_sign_in_the_series_is_caught(name, monkeypatch):
    case = FAST_CASES[name]
    forms = loss_forms(case)
    _planted_coefficients(monkeypatch, lambda coefficients: -coefficients)
    assert_caught(loss_forms(case), forms, case.params)


@pytest.mark.parametrize("name", ["relu", "elu"])
def test_a_nan_in_the_series_is_caught(name, monkeypatch):
    case = FAST_CASES[name]
    forms = loss_forms(case)

    def one_nan(coefficients):
        coefficients[(0,) * coefficients.ndim] = np.nan
        return coefficients

    _planted_coefficients(monkeypatch, one_nan)
    assert_caught(loss_forms(case), forms, case.params, words="non-finite")


@pytest.mark.parametrize("chunk_index", range(3))
def test_a_bug_in_one_chunk_of_the_output_series_is_caught(chunk_index, monkeypatch):
    case = FAST_CASES["relu"]
    forms = small_chunks(loss_forms(case), 4)
    real, calls = series_paths.output_nets_by_series, []

    def one_chunk_off(base, layer, moved, outputs):
        taken = real(base, layer, moved, outputs)
        calls.append(1)
        if taken and len(calls) == chunk_index + 1:
            outputs += 1e-7
        return taken

    monkeypatch.setattr(PerturbedLosses, "_fast_outputs", _with_series(one_chunk_off))
    assert_caught(forms, loss_forms(case), case.params)


def _with_series(series_function):
    """PerturbedLosses._fast_outputs calling `series_function` for output_nets_by_series."""
    real = PerturbedLosses._fast_outputs

    def fast_outputs(self, change, want_nets):
        from refbp.perturbed import perturbed_losses

        saved = perturbed_losses.output_nets_by_series
        perturbed_losses.output_nets_by_series = series_function
        try:
            return real(self, change, want_nets)
        finally:
            perturbed_losses.output_nets_by_series = saved

    return fast_outputs


def test_a_bug_in_the_networks_redone_near_a_kink_only_is_caught(monkeypatch):
    """The direct path's losses for the few networks a fast chunk redoes near a kink: sampled as
    a path of their own."""
    case = KINKED_CASES[0]
    real = PerturbedLosses._direct_outputs

    def off_when_redone(self, change, want_nets):
        outputs, nets = real(self, change, want_nets)
        if self._path and self._path[0].startswith("output series"):  # called for the redone networks
            outputs = outputs + 1e-6
        return outputs, nets

    monkeypatch.setattr(PerturbedLosses, "_direct_outputs", off_when_redone)
    params = {n: np.asarray(p, float) for n, p in case.params.items()}
    assert any("direct near a kink" in p for p in paths_taken(case, (0.05, -0.05)))
    # Large steps: many networks cross, and the redone ones are sampled.
    result = finite_difference("richardson", loss_forms(case), params)
    assert any("disagreed" in note for note in result.notes), result.notes
