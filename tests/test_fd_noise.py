"""No false alarm where the loss as computed is noisy (refbp.oracle.fd.noise, refbp.check.fd_reference):
ECnoise finds the noise it should, the noisy fuzz-found cases of cases/regressions/ pass
because of it (and fail without it), and a wrong gradient still fails there."""

from __future__ import annotations

import dataclasses
import sys

import numpy as np
import pytest

from refbp.cases import SUITE_DIR, load_case
from refbp.check import fd_reference
from refbp.check.check_case import Implementation, check_case, finite_difference_checks
from refbp.check.fd_reference import output_rounding
from refbp.check.references import References
from refbp.nn import compute_trace
from refbp.oracle.fd.noise import FOUND, POINTS, TOO_LARGE, TOO_SMALL, noise_levels
from refbp.perturbed import loss_forms

# The cases whose correct gradient fails without the measured noise (and the staircase rule).
NOISY = ["fuzz-mlp-1eb7036594d7", "fuzz-mlp-507820d39155", "fuzz-mlp-9f78914bc73a", "fuzz-rnn-c04e4359bffd"]


def regression(case_id: str):
    return load_case(SUITE_DIR / "regressions" / f"{case_id}.json")


def spaced(f, x=0.3, delta=1e-3):
    return np.array([[f(x + k * delta) for k in range(-(POINTS // 2), POINTS // 2 + 1)]])


def test_ecnoise_finds_added_noise_of_the_size_added():
    rng = np.random.default_rng(0)
    sigma = 1e-9
    for _ in range(20):
        noisy = spaced(np.exp) + sigma * rng.standard_normal((1, POINTS))
        level, status = noise_levels(noisy)
        assert status[0] == FOUND and sigma / 4 < level[0] < 4 * sigma


def test_ecnoise_finds_no_more_than_rounding_in_a_smooth_function():
    level, status = noise_levels(spaced(np.exp))
    assert status[0] != FOUND or level[0] < 1e-14


def test_ecnoise_says_too_small_for_equal_values_and_too_large_for_a_steep_smooth_function():
    assert noise_levels(np.ones((1, POINTS)))[1][0] == TOO_SMALL
    assert noise_levels(spaced(lambda x: np.exp(30 * x), delta=0.05))[1][0] == TOO_LARGE


@pytest.mark.parametrize("case_id", NOISY)
def test_a_noisy_regression_case_fails_without_its_noise_measured(case_id, monkeypatch):
    """The premise: these cases pass because of the measured noise (and the bce staircase),
    not because anything else changed."""
    case = regression(case_id)
    monkeypatch.setattr(fd_reference, "NOISE_JUDGED", ())
    rows = finite_difference_checks(case, compute_trace(case), loss_forms(case), None)
    assert not all(r.passed for r in rows)


@pytest.mark.parametrize("case_id", NOISY)
def test_a_wrong_gradient_still_fails_on_a_noisy_case(case_id):
    """1% off at the largest entry of every tensor, or further where the admissible values span
    more (at a saturated bce output they span every legitimate convention): the measured noise
    widens an entry by what the reference may be off, never by that much."""
    case = regression(case_id)
    trace = compute_trace(case)
    admissible = References().admissible(case, "")
    grads = {name: g.copy() for name, g in trace.grads.items()}
    for name, g in grads.items():
        largest = int(np.argmax(np.abs(g)))
        high = admissible._intervals("grads", name)[0][1].reshape(-1)[largest]
        g.reshape(-1)[largest] = max(g.reshape(-1)[largest] * 1.01, high + 0.01 * abs(high) + 1e-6)
    wrong = dataclasses.replace(trace, grads=grads)
    rows = finite_difference_checks(case, wrong, loss_forms(case), None)
    # Each planted entry fails its row, or is one finite differences cannot judge there (a kink,
    # a clamp or a jump within reach, or a noise above the tolerance: listed in the row's entries,
    # never passed silently); the torch rows judge those, and fail every tensor.
    for row in rows:
        planted = np.unravel_index(int(np.argmax(np.abs(trace.grads[row.tensor]))), trace.grads[row.tensor].shape)
        listed = {e.index for e in row.entries}
        assert not row.passed or tuple(int(i) for i in planted) in listed, row.tensor
    verdict = check_case(case, Implementation("wrong", lambda _case: wrong, loss_forms=loss_forms))
    assert {c.tensor for c in verdict.failed_checks() if c.reference == "torch-autograd"} == set(grads)


def test_the_noise_is_measured_and_named_in_the_row():
    case = regression("fuzz-mlp-1eb7036594d7")
    rows = finite_difference_checks(case, compute_trace(case), loss_forms(case), None)
    assert all(r.passed for r in rows)
    assert any("measured noise (ECnoise)" in r.note and "loss noise up to" in r.note for r in rows)


def test_the_outputs_rounding_through_bce_is_large_only_near_1():
    """Half an ulp of y through d/dy of -log(1 - y): 2^-54 / (1 - y) per output, over the outputs."""
    near_one = output_rounding("bce", np.array([[1.0 - 2.0**-40]]), np.array([[0.0]]))
    assert near_one == pytest.approx(2.0**-54 / 2.0**-40, rel=1e-6)
    assert output_rounding("bce", np.array([[1e-30, 0.5]]), np.array([[1.0, 0.5]])) < 1e-15  # floats are dense at 0
    assert output_rounding("bce", np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]])) == 0.0  # clamped: flat
    assert output_rounding("mse", np.array([[1.0 - 2.0**-40]]), np.array([[0.0]])) == 0.0


def test_a_step_narrower_than_a_stair_is_judged_with_the_outputs_rounding(monkeypatch):
    """fuzz-mlp-507820d39155: 1 - y = 5e-13 at one output, whose stairs are wider than the
    steps of some entries: the loss looks smooth there with the wrong slope, and only the
    outputs' rounding through bce explains it."""
    case = regression("fuzz-mlp-507820d39155")
    monkeypatch.setattr(sys.modules["refbp.check.fd_rows"], "output_rounding", lambda *args: 0.0)
    # (and without the one-sided test, which sees the stairs as a jump within the stencil)
    monkeypatch.setattr(fd_reference, "mark_blind_entries", lambda *args: None)
    rows = finite_difference_checks(case, compute_trace(case), loss_forms(case), None)
    assert not all(r.passed for r in rows)
