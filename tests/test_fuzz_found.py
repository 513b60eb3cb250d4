"""The fuzz-found cases (cases/regressions/, `refbp fuzz` failures kept): each passes as part
of the suite, and what each one found stays fixed (the noisy ones: tests/test_fd_noise.py)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from refbp.cases import SUITE_DIR, load_case
from refbp.check.check_case import check_case, finite_difference_checks, torch_checks
from refbp.diagnosis.mlp import derive
from refbp.diagnosis.variant import Variant
from refbp.nn import compute_trace
from refbp.oracle.fd.kinks import crossed_unit
from refbp.perturbed import loss_forms
from refbp.perturbed.plain import bce_clamps

REGRESSIONS = sorted((SUITE_DIR / "regressions").glob("*.json"))


def regression(case_id: str):
    return load_case(SUITE_DIR / "regressions" / f"{case_id}.json")


def test_every_regression_case_is_in_the_suite_and_passes():
    assert len(REGRESSIONS) >= 6
    for path in REGRESSIONS:
        verdict = check_case(load_case(path))
        assert verdict.passed, (path.name, [(c.reference, c.tensor, c.note) for c in verdict.failed_checks()])


def test_relu_units_exactly_at_0_are_non_differentiable_for_the_entries_that_move_them_only():
    """fuzz-mlp-05164caad5ef: output units 1-3 (relu) have nets exactly 0. The kink probe
    reports the entries that move them (their weights and biases); layers.0.weight[4][4], which
    failed when it was found, moves none of them and is judged (central differences' truncation
    guess fell short there: Richardson judges it, refbp.check.fd_reference)."""
    case = regression("fuzz-mlp-05164caad5ef")
    rows = {r.tensor: r for r in finite_difference_checks(case, compute_trace(case), loss_forms(case), "central")}
    assert all(r.passed for r in rows.values())
    assert rows["layers.2.weight"].nondifferentiable == 6 and rows["layers.2.bias"].nondifferentiable == 3
    assert sum(r.nondifferentiable for r in rows.values()) == 9
    assert "layers.2.net[0][1]" in rows["layers.2.weight"].note


def test_the_diagnosis_transposed_slip_fits_a_network_with_layers_that_are_not_square():
    """The fuzz-found 1-6-6-1 case crashed the diagnosis catalogue (W^T on a 6x1 layer)."""
    case = regression("fuzz-mlp-507820d39155")
    trace = derive(case, variant=Variant(paths="transposed"))
    assert set(trace.grads) == set(case.params)


# The RNN one too: its batched form (refbp.perturbed.rnn_losses) probes no clamps either.
CLAMPED = ["fuzz-mlp-54fcbc2fbe1c", "fuzz-mlp-60e8a4714d93", "fuzz-mlp-6d6205546165", "fuzz-rnn-c04e4359bffd"]


@pytest.mark.parametrize("case_id", CLAMPED)
def test_near_bces_clamp_the_plain_forward_with_its_clamps_probed_judges(case_id):
    """Outputs at exactly 1 (log(1 - y) clamped at -100, a jump from -36.7) or below e^-100:
    no complex step (a max is not analytic: it gave 5e18 for a gradient of 2) and no batched
    forms (they report the relu family's nets only); the correct gradient passes."""
    case = regression(case_id)
    forms = loss_forms(case)
    assert forms.complex_loss is None and forms.perturbed is None and "bce clamps" in forms.not_analytic
    rows = finite_difference_checks(case, compute_trace(case), forms, None)
    assert rows and all(r.passed for r in rows)


@pytest.mark.parametrize("case_id", CLAMPED[:2])
def test_a_clamped_case_fails_on_the_complex_step_and_batched_forms(case_id, monkeypatch):
    """The premise (of the two that need it): these correct gradients fail without that (and
    without the one-sided test that would also see the clamp within the stencil)."""
    case = regression(case_id)
    monkeypatch.setattr(sys.modules["refbp.perturbed.forms"], "clamp_in_reach", lambda *args: None)
    monkeypatch.setattr(sys.modules["refbp.check.fd_reference"], "mark_blind_entries", lambda *args: None)
    rows = finite_difference_checks(case, compute_trace(case), loss_forms(case), None)
    assert not all(r.passed for r in rows)


def test_an_output_moved_into_or_out_of_bces_clamp_crosses_a_kink():
    """The probe's clamp units: y rounded to exactly 1 and back, y past e^-100, and a term of
    weight 0 that cannot kink."""
    clamps = bce_clamps(np.array([[0.0, 1.0]]))  # t = 0: only log(1 - y) counts; t = 1: only log y
    base = clamps(np.array([[1.0, 1e-40]]))
    assert crossed_unit(base, clamps(np.array([[1.0 - 2.0**-53, 1e-40]]))) == "bce.log(1-y)[0][0]"
    assert crossed_unit(base, clamps(np.array([[1.0, 1e-50]]))) == "bce.log(y)[0][1]"
    unweighted = clamps(np.array([[1e-40, 1e-40]]))
    assert crossed_unit(unweighted, clamps(np.array([[1e-50, 1e-40]]))) is None  # log y of t = 0: weight 0


@pytest.mark.parametrize("case_id", ["fuzz-mlp-54fcbc2fbe1c", "fuzz-mlp-6d6205546165", "fuzz-rnn-c04e4359bffd"])
def test_torch_judges_every_gradient_entry_at_an_output_of_exactly_1(case_id):
    """Clamping log(1 - y) = log(0) sent 0 x inf = NaN back through torch's autograd: every
    entry of such a gradient went unjudged ("no entry to judge") and the row passed."""
    case = regression(case_id)
    assert np.any(compute_trace(case).outputs == 1.0)
    rows = [r for r in torch_checks(case, compute_trace(case)) if r.quantity == "grads"]
    assert rows and all(r.passed and r.checked == case.params[r.tensor].size for r in rows)
