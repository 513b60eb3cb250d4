"""Check one case: the implementation's trace against each reference, row by row.

- torch-autograd: outputs, loss, every layer's net/out, every gradient (parameters and
  inputs), the parameters and the loss after training;
- finite-difference: every parameter gradient, against finite differences of the
  implementation's own forward (`fd_method`, default per case: `default_fd_method`;
  entries at a kink are reported, not judged);
- expected: the case's published numbers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial
from typing import Callable

import numpy as np

from cases import Case, Tolerance
from cases.fingerprint import case_hash
from oracle.fd import ComplexStepRefused

from ..diagnosis import diagnose_verdict
from ..loss_forms import LossForms
from ..nn import compute_trace
from ..nn.backend import serial_blas
from ..perturbed import loss_forms
from ..trace import Trace
from .entrywise import compare
from .fd_reference import escalate_failures, mark_convention_points, output_rounding, unjudged_entries
from .conventions import Admissible
from .references import References
from .tolerance import FD_ERROR_FACTOR, fd_tolerance, published_allowance, tolerance_for
from .verdict import Check, CaseVerdict

ORACLES = ("torch", "fd", "expected")
ORACLE_REFERENCE = {"torch": "torch-autograd", "fd": "finite-difference", "expected": "expected"}
FRESH = References()


@dataclass
class Implementation:
    """What is checked: a trace of a case, and (for finite differences) its forward as a loss
    function. An implementation gives either `loss_function` (case -> (loss, probe or None):
    all finite differences need, e.g. the torch reference's loss in `refbp verify`) or
    `loss_forms` (case -> LossForms, with fast forms: refbp.perturbed.loss_forms)."""

    name: str
    trace: Callable[[Case], Trace]
    loss_function: Callable | None = None
    loss_forms: Callable[[Case], LossForms] | None = None

    def fd_forms(self, case: Case) -> LossForms | None:
        """The forms finite differences use for `case` (None: no finite differences)."""
        if self.loss_forms is not None:
            return self.loss_forms(case)
        if self.loss_function is not None:
            loss, probe = self.loss_function(case)
            return LossForms(loss, probe)
        return None


def refbp_implementation(backend: str = "numpy", device: str | None = None) -> Implementation:
    from refbp import __version__

    if backend == "numpy":
        return Implementation(f"refbp {__version__}", compute_trace, loss_forms=loss_forms)
    if backend != "torch":
        raise ValueError(f"unknown backend {backend!r} (known: numpy, torch)")
    from refbp.devices import TorchPlacement

    placement = TorchPlacement(device or "cpu")
    return Implementation(f"refbp {__version__} ({placement.name})", lambda case: compute_trace(case, placement),
                          loss_forms=loss_forms)


def check_case(case: Case, implementation: Implementation | None = None, oracles=ORACLES,
               fd_method: str | None = None, references: References | None = None,
               conventions: str = "any", admissible: Admissible | None = None) -> CaseVerdict:
    """The verdict of `implementation` on `case`; `references` gives the torch trace and the finite
    differences (default: computed afresh; refbp.check.references.ReferenceCache keeps them, only
    where the finite differences' loss is not the implementation's)."""
    implementation = implementation or refbp_implementation()
    references = FRESH if references is None else references
    start = time.perf_counter()
    verdict = CaseVerdict(case=case.id, implementation=implementation.name, passed=False,
                          path=case.label(), title=case.title, network=case.network.describe(), dtype=case.dtype,
                          case_hash=case_hash(case))
    trace = implementation.trace(case)
    verdict.through_time = trace.gradient_norms_through_time()
    verdict.seeds = case.seeds
    if admissible is None and {"torch", "fd"} & set(oracles):
        admissible = references.admissible(case, verdict.case_hash, conventions)
    if "torch" in oracles:
        verdict.checks += torch_checks(case, trace, admissible)
    forms = implementation.fd_forms(case) if "fd" in oracles else None
    if forms is not None:
        try:
            verdict.checks += finite_difference_checks(case, trace, forms, fd_method, references, verdict.case_hash,
                                                       admissible, judged_elsewhere="torch" in oracles)
        except ComplexStepRefused as exc:  # asked for a method this case cannot have: a usage problem
            verdict.errors.append(f"{case.label()}: --fd-method complex: {exc}")
            verdict.error_kind = "input"
    if "expected" in oracles and case.expected is not None:
        verdict.checks += expected_checks(case, trace)
    verdict.passed = all(c.passed for c in verdict.checks) and not verdict.errors
    torch_tolerance = tolerance_for(case, "torch-autograd")
    diagnose_verdict(case, trace, verdict, torch_tolerance.atol, torch_tolerance.rtol)  # failed rows only
    verdict.seconds = time.perf_counter() - start
    return verdict


def rows(quantity: str, actual: dict, reference: dict, reference_name: str, tolerance,
         skips: dict | None = None, method: str = "",
         allowances: dict | None = None, admissible: Admissible | None = None) -> list[Check]:
    """One row per tensor of `reference`; a tensor the implementation lacks is a failed row.
    With `admissible` (the torch reference under each convention the case reaches), each entry
    is compared with the admissible value nearest to it, and the row names the convention."""
    result = []
    for name, ref in reference.items():
        if name not in actual or actual[name] is None:
            result.append(Check(quantity, name, reference_name, np.inf, np.inf, [], tolerance.atol,
                                tolerance.rtol, False, note="not computed by the implementation"))
            continue
        skip = None if skips is None else skips.get(name)
        allowance = None if allowances is None else allowances.get(name)
        convention = ""
        if admissible is not None:
            ref, convention = admissible.nearest(quantity, name, actual[name], tolerance.atol, tolerance.rtol)
        comparison = compare(actual[name], ref, tolerance.atol, tolerance.rtol, skip=skip, allowance=allowance)
        skipped = int(skip.sum()) if skip is not None else 0
        note = comparison.note
        if skipped:
            note = (note + "; " if note else "") + f"{skipped} entries at non-differentiable points, not judged"
        result.append(Check(
            quantity=quantity, tensor=name, reference=reference_name,
            max_abs_err=comparison.max_abs_err, max_rel_err=comparison.max_rel_err,
            worst_index=comparison.worst_index, atol=tolerance.atol, rtol=tolerance.rtol,
            passed=comparison.passed, note=note, checked=comparison.checked, nondifferentiable=skipped,
            actual=comparison.actual, expected_value=comparison.reference, method=method, convention=convention,
        ))
        if admissible is not None and not comparison.passed and admissible.others:
            other = admissible.other_convention(quantity, name, actual[name], tolerance.atol, tolerance.rtol)
            if other:  # --conventions torch: a legitimate convention that torch does not take
                result[-1].diagnosis = "convention"
                result[-1].diagnosis_note = (f"follows another convention ({other}), not torch's own choice "
                                             "(--conventions torch admits torch's only)")
    return result


def torch_checks(case: Case, trace: Trace, admissible: Admissible | None = None) -> list[Check]:
    """Rows against the torch reference, under every convention `admissible` holds (default:
    computed now, every admissible convention)."""
    admissible = admissible if admissible is not None else FRESH.admissible(case, "")
    ref = admissible.variants[0].trace
    tol = tolerance_for(case, "torch-autograd")
    name = "torch-autograd"
    checks = rows("outputs", {"outputs": trace.outputs}, {"outputs": ref.outputs}, name, tol)
    checks += rows("loss", {"loss": trace.loss}, {"loss": ref.loss}, name, tol, admissible=admissible)
    checks += rows("intermediates", trace.intermediates, ref.intermediates, name, tol)
    checks += rows("grads", trace.grads, ref.grads, name, tol, admissible=admissible)
    checks += rows("input_grads", trace.input_grads, ref.input_grads, name, tol, admissible=admissible)
    if ref.params_after is not None:
        checks += rows("params_after", trace.params_after or {}, ref.params_after, name, tol, admissible=admissible)
        checks += rows("loss_after", {"loss": trace.loss_after}, {"loss": ref.loss_after}, name, tol,
                       admissible=admissible)
    return checks


def finite_difference_checks(case: Case, trace: Trace, forms: LossForms, method: str | None,
                             references: References | None = None, fingerprint: str = "",
                             admissible: Admissible | None = None, judged_elsewhere: bool = True) -> list[Check]:
    """Rows against finite differences of `forms`' loss. Entries where a kink, a clamp or a jump
    lies within the stencil, or where correct conventions differ (`admissible`), are not judged
    here: the torch rows judge them under the conventions (`judged_elsewhere`), else they are
    inconclusive."""
    method = method or default_fd_method(forms)
    # Finite differences run many products of a few hundred thousand multiplications each:
    # numpy's BLAS threads cost more than they give there, and after torch (the other
    # reference) they fight its spinning OpenMP threads for the cores (docs/performance.md).
    tolerance = fd_tolerance(case, method, sum(int(np.size(p)) for p in case.params.values()))
    with serial_blas(np):
        result = (FRESH if references is None else references).finite_difference(case, fingerprint, method, forms)
        mark_convention_points(result, admissible, tolerance)
        result = escalate_failures(forms, case.params, trace.grads, result, tolerance,
                                   output_rounding(case.loss, trace.outputs, case.targets))
    if method == "directional":
        return [directional_row(trace, result, tolerance)]
    skips = {name: result.kink_mask(name) for name in result.kinks}
    allowances = {name: FD_ERROR_FACTOR * e for name, e in result.errors.items()}
    checks = rows("grads", trace.grads, result.grads, "finite-difference", tolerance,
                  skips=skips, method=result.method, allowances=allowances)
    for check in checks:
        name = check.tensor
        check.step = float(np.nanmax(result.steps[name], initial=0.0))
        check.error_estimate = float(np.nanmax(result.errors[name], initial=0.0))
        judged = ~skips[name] if name in skips else True
        weak = int(np.sum(judged & (allowances[name] > tolerance.atol + tolerance.rtol * np.abs(result.grads[name]))))
        if not judged_elsewhere:  # no torch row judges what finite differences cannot
            check.inconclusive = check.nondifferentiable + weak
        if weak:
            check.note += (("; " if check.note else "") + f"{weak} entries with an FD error estimate above the "
                           "tolerance (weak check there)")
        unjudged = unjudged_entries(result, name)
        if unjudged:  # a NaN finite difference is left out of the comparison: never silently
            check.passed = False
            check.note += (("; " if check.note else "") + f"{unjudged} entries without a finite finite difference "
                           "(the loss is not finite at their points): failed, not skipped")
        if result.notes:
            check.note += ("; " if check.note else "") + "; ".join(result.notes)
        if method == "sampled":
            evaluated = int(np.sum(~np.isnan(result.grads[name])))
            check.note += ("; " if check.note else "") + f"sampled {evaluated} of {result.grads[name].size} entries"
        if result.kinks.get(name):
            units = sorted(set(result.kinks[name].values()))
            shown = ", ".join(units[:3]) + (f" and {len(units) - 3} more" if len(units) > 3 else "")
            check.note += f" (non-differentiable point: units at their kink: {shown})"
    return checks


def default_fd_method(forms: LossForms) -> str:
    """The complex step (machine precision, no subtraction) when every function of the network
    is analytic and the implementation gives a complex-capable forward (refbp's MLPs);
    otherwise central differences (2 evaluations per entry, the narrowest stencil at kinks)."""
    return "complex" if forms.complex_loss is not None else "central"


def directional_row(trace: Trace, result, tolerance) -> Check:
    """<grad, u_i> of the implementation against the derivative along each random direction u_i."""
    names = list(result.directions[0]) if result.directions else []
    missing = [n for n in names if trace.grads.get(n) is None]
    tensor = f"<grads, u> ({len(result.directions)} random directions)"
    if missing:
        return Check("grads", tensor, "finite-difference", np.inf, np.inf, [], tolerance.atol, tolerance.rtol,
                     False, note=f"not computed by the implementation: {', '.join(missing)}", method="directional")
    actual = np.array([sum(float(np.sum(np.asarray(trace.grads[n], dtype=np.float64) * u[n])) for n in names)
                       for u in result.directions])
    skip = np.zeros(actual.shape, dtype=bool)
    for i in result.directional_kinks:
        skip[i] = True
    comparison = compare(actual, result.directional, tolerance.atol, tolerance.rtol, skip=skip,
                         allowance=FD_ERROR_FACTOR * result.directional_errors)
    note = "; ".join(filter(None, [comparison.note, *result.notes]))
    if result.directional_kinks:
        units = sorted(set(result.directional_kinks.values()))
        note += (("; " if note else "") + f"{len(result.directional_kinks)} directions at a non-differentiable "
                 f"point, not judged (units at their kink: {', '.join(units[:3])})")
    if not comparison.passed and not note:
        note = (f"direction {comparison.worst_index}: <grads, u> = {comparison.actual:.10g}, "
                f"finite difference {comparison.reference:.10g}")
    return Check("grads", tensor, "finite-difference", comparison.max_abs_err, comparison.max_rel_err,
                 comparison.worst_index, tolerance.atol, tolerance.rtol, comparison.passed, note=note,
                 checked=comparison.checked, nondifferentiable=int(skip.sum()), actual=comparison.actual,
                 expected_value=comparison.reference, method="directional", step=result.directional_step,
                 error_estimate=float(np.max(result.directional_errors, initial=0.0)))


def expected_checks(case: Case, trace: Trace) -> list[Check]:
    expected = case.expected
    judge = partial(expected_rows, expected=expected, case=case)  # each value within its printed precision, where given
    checks = []
    if expected.outputs is not None:
        checks += judge("outputs", {"outputs": trace.outputs}, {"outputs": expected.outputs})
    if expected.loss is not None:
        checks += judge("loss", {"loss": trace.loss}, {"loss": expected.loss})
    checks += judge("intermediates", trace.intermediates, expected.intermediates)
    checks += judge("grads", trace.grads, expected.grads)
    checks += judge("params_after", trace.params_after or {}, expected.params_after)
    if expected.loss_after is not None:
        checks += judge("loss_after", {"loss": trace.loss_after}, {"loss": expected.loss_after})
    return checks


def expected_rows(quantity: str, actual: dict, reference: dict, expected, case: Case) -> list[Check]:
    """Rows against published values; a tensor with `expected.decimals` is judged entry by
    entry within half a unit in its last printed digit (entries without decimals: the
    case's `expected.tolerance`; a float32 case at least its float32 tolerance: published_allowance),
    the row's atol showing the widest such allowance."""
    checks = []
    for name, ref in reference.items():
        key = quantity if quantity in ("outputs", "loss", "loss_after") else f"{quantity}.{name}"
        decimals = expected.decimals.get(key)
        tol = tolerance_for(case, "expected")
        if decimals is None:
            checks += rows(quantity, actual, {name: ref}, "expected", tol)
            continue
        half_unit = np.where(np.isnan(decimals), tol.atol + tol.rtol * np.abs(np.asarray(ref, dtype=np.float64)),
                             0.5 * 10.0 ** -np.nan_to_num(decimals))
        half_unit = published_allowance(case, ref, half_unit)
        row, = rows(quantity, actual, {name: ref}, "expected", Tolerance(atol=0.0, rtol=0.0),
                    allowances={name: half_unit})
        judged = ~np.isnan(np.asarray(ref, dtype=np.float64))
        row.atol = float(np.max(half_unit[judged], initial=0.0))
        row.note = "; ".join(filter(None, [row.note, "each value within half a unit in its last printed digit"]))
        checks.append(row)
    return checks
