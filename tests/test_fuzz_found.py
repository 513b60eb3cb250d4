"""The fuzz-found cases (cases/regressions/, `refbp fuzz` failures kept): each passes as part
of the suite, and what each one found stays fixed (the noisy ones: tests/test_fd_noise.py)."""

from __future__ import annotations

from cases import SUITE_DIR, load_case
from refbp.check.check_case import check_case, finite_difference_checks
from refbp.diagnosis.mlp import derive
from refbp.diagnosis.variant import Variant
from refbp.nn import compute_trace
from refbp.perturbed import loss_forms

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
