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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import numpy as np

from refbp.cases import Case, Expected, Tolerance
from refbp.cases.fingerprint import case_hash
from refbp.oracle.fd import ComplexStepRefused

from ..diagnosis import diagnose_verdict
from ..loss_forms import LossForms
from ..nn import compute_trace
from ..perturbed import loss_forms
from ..trace import Trace
from .conventions import Admissible
from .fd_directional import default_fd_method, directional_row  # noqa: F401 (their home until now)
from .fd_rows import finite_difference_checks
from .precision import name_precision_findings, reconcile, stick_rows
from .references import FRESH, References
from .rows import rows
from .stick import judged_by_stick
from .tolerance import published_allowance, tolerance_for
from .verdict import CaseVerdict, Check

ORACLES = ("torch", "fd", "expected")
ORACLE_REFERENCE = {"torch": "torch-autograd", "fd": "finite-difference", "expected": "expected"}


@dataclass
class Implementation:
    """What is checked: a trace of a case, and (for finite differences) its forward as a loss
    function. An implementation gives either `loss_function` (case -> (loss, probe or None):
    all finite differences need, e.g. the torch reference's loss in `refbp verify`) or
    `loss_forms` (case -> LossForms, with fast forms: refbp.perturbed.loss_forms)."""

    name: str
    trace: Callable[[Case], Trace]
    # (loss, probe) of a case, each over a parameter dict (whichever kind of dict the implementation takes).
    loss_function: Callable[[Case], tuple[Callable[..., float], Callable[..., Any] | None]] | None = None
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
    return Implementation(
        f"refbp {__version__} ({placement.name})", lambda case: compute_trace(case, placement), loss_forms=loss_forms
    )


def check_case(
    case: Case,
    implementation: Implementation | None = None,
    oracles: Sequence[str] = ORACLES,
    fd_method: str | None = None,
    references: References | None = None,
    conventions: str = "any",
    admissible: Admissible | None = None,
    fingerprint: str | None = None,
) -> CaseVerdict:
    """The verdict of `implementation` on `case`; `references` gives the torch trace and the finite
    differences (default: computed afresh; refbp.check.references.ReferenceCache keeps them, only
    where the finite differences' loss is not the implementation's); `fingerprint`: the case's
    case_hash where the caller has it (it costs a pass over every number of the case)."""
    implementation = implementation or refbp_implementation()
    references = FRESH if references is None else references
    start = time.perf_counter()
    fingerprint = fingerprint or case_hash(case)
    trace = implementation.trace(case)
    if admissible is None and {"torch", "fd"} & set(oracles):
        admissible = references.admissible(case, fingerprint, conventions)
    checks: list[Check] = []
    if "torch" in oracles:
        checks += torch_checks(case, trace, admissible)
    forms = implementation.fd_forms(case) if "fd" in oracles else None
    if forms is not None:
        try:
            checks += finite_difference_checks(
                case, trace, forms, fd_method, references, fingerprint, admissible, judged_elsewhere="torch" in oracles
            )
        except ComplexStepRefused as exc:
            # --fd-method complex on a case that cannot have it (a kink, a clamp, an RNN): the other
            # cases of the run keep it, this one is judged by central differences, and says so.
            fallback = finite_difference_checks(
                case, trace, forms, "central", references, fingerprint, admissible, judged_elsewhere="torch" in oracles
            )
            checks += [
                replace(check, note=f"--fd-method complex: {exc}; central differences instead; {check.note}")
                for check in fallback
            ]
    if "expected" in oracles and case.expected is not None:
        checks += expected_checks(case, trace)
    checks = reconcile(case, checks)  # low precision: where torch's own row cannot tell, neither can these
    verdict = CaseVerdict(
        case=case.id,
        implementation=implementation.name,
        passed=all(c.passed for c in checks),
        checks=checks,
        path=case.label(),
        title=case.title,
        network=case.network.describe(),
        dtype=case.dtype,
        through_time=trace.gradient_norms_through_time(),
        seeds=case.seeds,
        case_hash=fingerprint,
    )
    torch_tolerance = tolerance_for(case, "torch-autograd")
    diagnosed: CaseVerdict = diagnose_verdict(case, trace, verdict, torch_tolerance.atol, torch_tolerance.rtol)
    verdict = diagnosed  # (failed rows only)
    if admissible is not None:  # low precision: a failure of rounding, not of a formula, says so
        verdict = replace(
            verdict, checks=name_precision_findings(case, list(verdict.checks), admissible.variants[0].trace)
        )
    return replace(verdict, seconds=time.perf_counter() - start)


def torch_checks(case: Case, trace: Trace, admissible: Admissible | None = None) -> list[Check]:
    """Rows against the torch reference, under every convention `admissible` holds (default:
    computed now, every admissible convention)."""
    admissible = admissible if admissible is not None else FRESH.admissible(case, "")
    if judged_by_stick(case):  # float32, float16, bfloat16: against torch's own error there
        return stick_rows(case, trace, admissible)
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
        checks += rows(
            "loss_after", {"loss": trace.loss_after}, {"loss": ref.loss_after}, name, tol, admissible=admissible
        )
    return checks


def expected_checks(case: Case, trace: Trace) -> list[Check]:
    expected = case.expected
    if expected is None:  # a case that publishes no values
        return []
    judge = partial(expected_rows, expected=expected, case=case)  # each value within its printed precision, where given
    checks: list[Check] = []
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


def expected_rows(
    quantity: str, actual: Mapping[str, Any], reference: Mapping[str, Any], expected: Expected, case: Case
) -> list[Check]:
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
        half_unit = np.where(
            np.isnan(decimals),
            tol.atol + tol.rtol * np.abs(np.asarray(ref, dtype=np.float64)),
            0.5 * 10.0 ** -np.nan_to_num(decimals),
        )
        half_unit = published_allowance(case, ref, half_unit)
        (row,) = rows(
            quantity, actual, {name: ref}, "expected", Tolerance(atol=0.0, rtol=0.0), allowances={name: half_unit}
        )
        judged = ~np.isnan(np.asarray(ref, dtype=np.float64))
        checks.append(
            replace(
                row,
                atol=float(np.max(half_unit[judged], initial=0.0)),
                note="; ".join(filter(None, [row.note, "each value within half a unit in its last printed digit"])),
            )
        )
    return checks
