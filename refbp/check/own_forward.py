"""The own-forward-fd rows: an implementation's gradients against derivatives of its OWN loss
(does its backward match its forward?), calling its code as few times as possible.

Its entries are judged three ways, one row per tensor as before:
  - not judged: where a kink, a clamp or a jump lies within the method's stencil, and where
    correct conventions differ: the case's own (its reference finite difference, computed
    on refbp's forms and cached, says where; refbp.check.references);
  - one by one, by central differences (or `--fd-method richardson`) with escalation, the
    loss's measured noise and one-sided checks as always (refbp.check.fd_reference): where
    the reference's own error estimate is above the tolerance, where a value is not finite,
    every entry of a small case (at most ENTRYWISE_UP_TO), and what the narrowing leaves;
  - along random directions (refbp.check.narrowing): everything else, a few evaluations
    for all of it; where a direction fails, narrowed down by bisection to the entries
    judged one by one, so that a wrong entry still fails its tensor's row, named.
Other methods (`directional`, `sampled`) are entry-wise samples already: as before.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from refbp.cases import Case, Tolerance
from refbp.oracle.fd import FiniteDifference, finite_difference
from refbp.oracle.fd.refine import output_rounding

from ..loss_forms import LossForms
from ..nn.backend import serial_blas
from ..trace import Trace
from .conventions import Admissible
from .fd_reference import OWN_FORWARD, escalate_failures, mark_convention_points
from .fd_rows import finite_difference_checks, judged_rows
from .narrowing import Vouched, narrow
from .own_loss import OwnLoss
from .own_rounded import ROUNDED_DTYPES, rounded_rows, rounds_its_parameters
from .tolerance import FD_ERROR_FACTOR, fd_tolerance
from .verdict import Check

REFERENCE = OWN_FORWARD
NARROWED_METHODS = ("central", "richardson")
ENTRYWISE_UP_TO = 32  # entries: a case this small is judged entry by entry (a few dozen calls)
ALONG = "along random directions"  # how the entries the directions vouched for were judged


def own_method(fd_method: str | None) -> str:
    """The method of the own-forward-fd rows: the run's, but central for the complex step (an
    implementation's loss takes no complex numbers)."""
    return "central" if fd_method in (None, "complex") else fd_method


def own_forward_checks(
    case: Case,
    trace: Trace,
    own: OwnLoss,
    forms: LossForms,
    reference: FiniteDifference | None,
    method: str,
    admissible: Admissible | None = None,
    judged_elsewhere: bool = True,
) -> list[Check]:
    """The rows; `own` the implementation's loss (refbp.check.own_loss.OwnLoss), `forms` refbp's
    forms of the case (their probe finds the kinks), `reference` the case's raw finite
    difference by `method` (None: judged entry by entry, as before)."""
    probed = LossForms(own, forms.probe)
    params = {name: np.asarray(value, dtype=np.float64) for name, value in case.params.items()}
    if case.dtype in ROUNDED_DTYPES and rounds_its_parameters(own, params):
        return rounded_rows(case, trace, params, method, judged_elsewhere)
    if method not in NARROWED_METHODS or reference is None:
        checks = finite_difference_checks(
            case, trace, probed, method, admissible=admissible, judged_elsewhere=judged_elsewhere
        )
        return _named(checks, own.notes)
    tolerance = fd_tolerance(case, method, sum(int(p.size) for p in params.values()))
    mark_convention_points(reference, admissible, tolerance)
    answer = {
        name: np.asarray(trace.grads[name], dtype=np.float64).reshape(-1)
        for name in params
        if trace.grads.get(name) is not None and np.shape(trace.grads[name]) == params[name].shape
    }
    domain, one_by_one = _entries(params, answer, reference, tolerance)
    vouched: dict[str, Vouched] = {}
    with serial_blas(np):
        if sum(v.size for v in domain.values()) > ENTRYWISE_UP_TO and tolerance.atol > 0:
            base_nets, nets = _probe(forms, params)
            narrowed = narrow(domain, answer, params, own, nets, base_nets, tolerance)
            vouched = narrowed.vouched
            for name, indices in narrowed.leaves.items():
                one_by_one[name] = np.union1d(one_by_one.get(name, np.zeros(0, dtype=np.int64)), indices)
        else:
            for name, indices in domain.items():
                one_by_one[name] = np.union1d(one_by_one.get(name, np.zeros(0, dtype=np.int64)), indices)
        entrywise = None
        if any(v.size for v in one_by_one.values()):
            entrywise = finite_difference(method, probed, params, entries=one_by_one)
            entrywise = escalate_failures(
                probed,
                params,
                trace.grads,
                entrywise,
                tolerance,
                output_rounding(case.loss, trace.outputs, case.targets),
            )
    result = _combined(method, params, answer, reference, vouched, entrywise)
    result.notes = own.notes + result.notes
    return [
        _with_directions(check, vouched.get(check.tensor), result)
        for check in judged_rows(case, trace, result, REFERENCE, tolerance, method, judged_elsewhere)
    ]


def _entries(
    params: dict[str, np.ndarray], answer: dict[str, np.ndarray], reference: FiniteDifference, tolerance: Tolerance
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """({tensor: flat indices} the directions may judge, {tensor: flat indices} judged one by one):
    neither holds the case's kinks and convention points; one by one where the reference's
    error estimate is above the tolerance (as the row would judge it loosely), or a value is
    not finite. A tensor the answer lacks, or gives in another shape, is in neither."""
    domain: dict[str, np.ndarray] = {}
    one_by_one: dict[str, np.ndarray] = {}
    for name in params:
        if name not in answer:
            continue
        fd = reference.grads[name].reshape(-1)
        kink = reference.kink_mask(name).reshape(-1)
        with np.errstate(invalid="ignore"):
            weak = FD_ERROR_FACTOR * reference.errors[name].reshape(-1) > tolerance.atol + tolerance.rtol * np.abs(fd)
        alone = ~kink & (weak | ~np.isfinite(fd) | ~np.isfinite(answer[name]))
        domain[name] = np.flatnonzero(~kink & ~alone)
        one_by_one[name] = np.flatnonzero(alone)
    return domain, one_by_one


Units = dict[str, Any]  # {layer: pre-activations of its kinked units}, as LossForms.probe gives them


def _probe(
    forms: LossForms, params: dict[str, np.ndarray]
) -> tuple[Units, Callable[[list[dict[str, np.ndarray]]], list[Units]] | None]:
    """(the kinked units at `params`, points -> [their units at each point]) from refbp's forms:
    the stacked form where it gives every unit the probe does, else the probe point by point."""
    probe, stacked_form = forms.probe, forms.stacked
    if probe is None:
        return {}, None
    base = probe(params)
    if not base:
        return {}, None

    def nets(points: list[dict[str, np.ndarray]]) -> list[Units]:
        if stacked_form is not None:
            stack = {
                name: np.stack([np.broadcast_to(p[name], np.shape(params[name])) for p in points]) for name in params
            }
            answered: Any = stacked_form(stack, kinks=True)  # (losses, {layer: units of every point})
            _, stacked = answered
            if set(stacked) == set(base):
                return [{layer: value[s] for layer, value in stacked.items()} for s in range(len(points))]
        return [probe(point) for point in points]

    return base, nets


def _combined(
    method: str,
    params: dict[str, np.ndarray],
    answer: dict[str, np.ndarray],
    reference: FiniteDifference,
    vouched: dict[str, Vouched],
    entrywise: FiniteDifference | None,
) -> FiniteDifference:
    """One result for the rows: the reference's values at its kinks (not judged), the answer
    itself where the directions vouched for it (its error is theirs, added by
    `_with_directions`), the entry-wise values elsewhere."""
    # The method most entries were judged by is the default of `judged_by` (refbp.check.fd_rows.describe).
    default = ALONG if vouched else method
    result = FiniteDifference(method=default, kinks={n: dict(k) for n, k in reference.kinks.items()})
    for name, value in params.items():
        shape = np.shape(value)
        grads, steps, errors = (np.full(int(np.size(value)), np.nan) for _ in range(3))
        kink = reference.kink_mask(name).reshape(-1)
        for target, source in ((grads, reference.grads), (steps, reference.steps), (errors, reference.errors)):
            target[kink] = source[name].reshape(-1)[kink]
        if name in vouched:
            indices = np.concatenate(vouched[name].indices)
            grads[indices], steps[indices], errors[indices] = answer[name][indices], vouched[name].step, 0.0
        if entrywise is not None and name in entrywise.grads:
            chosen = np.isfinite(entrywise.steps[name].reshape(-1))
            for target, key in ((grads, "grads"), (steps, "steps"), (errors, "errors")):
                target[chosen] = getattr(entrywise, key)[name].reshape(-1)[chosen]
            judged_by = entrywise.judged_by.get(name, {})
            if default != method:
                judged_by = {int(i): judged_by.get(int(i), method) for i in np.flatnonzero(chosen)}
            result.judged_by[name] = dict(judged_by)
            for index, unit in entrywise.kinks.get(name, {}).items():
                result.kinks.setdefault(name, {}).setdefault(index, unit)
        result.grads[name], result.steps[name], result.errors[name] = (a.reshape(shape) for a in (grads, steps, errors))
    if entrywise is not None:
        result.notes, result.largest_noise = list(entrywise.notes), entrywise.largest_noise
        result.evaluations = entrywise.evaluations
    return result


def _with_directions(check: Check, vouched: Vouched | None, result: FiniteDifference) -> Check:
    """The row with its numbers where directions judged entries: a passing row whose every judged
    entry they vouched for shows the worst direction (<grads, u> and the derivative of the loss)."""
    if vouched is None:
        return check
    alone = bool(result.judged_by.get(check.tensor))  # entries judged one by one (the directions' are the default)
    error = max(check.error_estimate, vouched.error) if np.isfinite(check.error_estimate) else vouched.error
    check = replace(check, error_estimate=error)
    if check.passed and (not alone or vouched.abs_err > check.max_abs_err):
        check = replace(
            check,
            max_abs_err=vouched.abs_err,
            max_rel_err=vouched.rel_err,
            worst_index=[],
            actual=vouched.actual,
            expected_value=vouched.reference,
            method=check.method if alone else "directional",
        )
    words = (
        f"random directions: worst |<grads, u> - derivative| {vouched.abs_err:.2g} (its error {vouched.error:.2g},"
        f" step {vouched.step:.2g})"
    )
    return replace(check, note="; ".join(filter(None, [check.note, words])))


def _named(checks: list[Check], notes: list[str]) -> list[Check]:
    return [
        replace(check, reference=REFERENCE, note="; ".join(filter(None, [check.note, *notes])) if notes else check.note)
        for check in checks
    ]
