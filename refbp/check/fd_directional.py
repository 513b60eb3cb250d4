"""The finite-difference method of the run, and the one row of `--fd-method directional`: the
implementation's <grads, u> against the loss's derivative along each random direction u."""

from __future__ import annotations

import numpy as np

from refbp.cases import Tolerance
from refbp.oracle.fd import FiniteDifference

from ..loss_forms import LossForms
from ..trace import Trace
from .entrywise import compare
from .fd_reference import KINK, reason_word
from .notes import short_note
from .tolerance import FD_ERROR_FACTOR
from .verdict import Check


def default_fd_method(forms: LossForms) -> str:
    """The complex step (machine precision, no subtraction) when every function of the network
    is analytic and the implementation gives a complex-capable forward (refbp's MLPs);
    otherwise central differences (2 evaluations per entry, the narrowest stencil at kinks)."""
    return "complex" if forms.complex_loss is not None else "central"


def directional_row(
    trace: Trace, result: FiniteDifference, tolerance: Tolerance, judged_elsewhere: bool = True
) -> Check:
    """<grad, u_i> of the implementation against the derivative along each random direction u_i."""
    names = list(result.directions[0]) if result.directions else []
    missing = [n for n in names if trace.grads.get(n) is None]
    tensor = f"<grads, u> ({len(result.directions)} random directions)"
    if missing:
        return Check(
            quantity="grads",
            tensor=tensor,
            reference="finite-difference",
            max_abs_err=np.inf,
            max_rel_err=np.inf,
            worst_index=[],
            atol=tolerance.atol,
            rtol=tolerance.rtol,
            passed=False,
            note=f"not computed by the implementation: {', '.join(missing)}",
            method="directional",
        )
    actual = np.array(
        [
            sum(float(np.sum(np.asarray(trace.grads[n], dtype=np.float64) * u[n])) for n in names)
            for u in result.directions
        ]
    )
    directional, errors = result.directional, result.directional_errors
    if directional is None or errors is None:
        raise ValueError("directional_row: a result of the directional method has its derivatives and their errors")
    skip = np.zeros(actual.shape, dtype=bool)
    for i in result.directional_kinks:
        skip[i] = True
    comparison = compare(
        actual, directional, tolerance.atol, tolerance.rtol, skip=skip, allowance=FD_ERROR_FACTOR * errors
    )
    counts = {"directions judged": comparison.checked}
    for reason in result.directional_kinks.values():
        key = "not judged:" + reason_word(reason)
        counts[key] = counts.get(key, 0) + 1
    units = sorted({r for r in result.directional_kinks.values() if reason_word(r) == KINK})
    words = [short_note(counts)]
    if result.directional_kinks:
        words.append("torch judges those not judged" if judged_elsewhere else "those not judged are inconclusive")
    if units:
        words.append("units at their kink: " + ", ".join(units[:3]))
    note = "; ".join(
        filter(None, [comparison.note if comparison.note != "no entry to judge" else "", *words, *result.notes])
    )
    if not comparison.passed:
        note += (
            f"; direction {comparison.worst_index}: <grads, u> = {comparison.actual:.10g}, "
            f"finite difference {comparison.reference:.10g}"
        )
    return Check(
        quantity="grads",
        tensor=tensor,
        reference="finite-difference",
        max_abs_err=comparison.max_abs_err,
        max_rel_err=comparison.max_rel_err,
        worst_index=comparison.worst_index,
        atol=tolerance.atol,
        rtol=tolerance.rtol,
        passed=comparison.passed,
        note=note,
        checked=comparison.checked,
        nondifferentiable=int(skip.sum()),
        inconclusive=0 if judged_elsewhere else int(skip.sum()),
        actual=comparison.actual,
        expected_value=comparison.reference,
        method="directional",
        step=result.directional_step,
        error_estimate=float(np.max(errors, initial=0.0)),
    )
