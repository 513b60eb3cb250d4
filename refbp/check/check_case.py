"""Check one case: the implementation's trace against each reference, row by row.

- torch-autograd: outputs, loss, every layer's net/out, every gradient (parameters and
  inputs), the parameters and the loss after training;
- finite-difference: every parameter gradient, against central differences of the
  implementation's own forward (entries at a kink are reported, not judged);
- expected: the case's published numbers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from cases import Case

from ..trace import Trace
from .compare import compare
from .tolerance import tolerance_for
from .verdict import Check, CaseVerdict

ORACLES = ("torch", "fd", "expected")
ORACLE_REFERENCE = {"torch": "torch-autograd", "fd": "finite-difference", "expected": "expected"}


@dataclass
class Implementation:
    """What is checked: a trace of a case, and (for finite differences) its forward as a loss function."""

    name: str
    trace: Callable[[Case], Trace]
    loss_function: Callable | None = None


def refbp_implementation(backend: str = "numpy", device: str | None = None) -> Implementation:
    from refbp import __version__
    from refbp.nn import compute_trace, loss_function

    name = f"refbp {__version__}" + ("" if backend == "numpy" else f" ({backend}:{device or 'cpu'})")
    return Implementation(name, lambda case: compute_trace(case, backend, device), loss_function)


def check_case(case: Case, implementation: Implementation | None = None, oracles=ORACLES,
               fd_method: str | None = None) -> CaseVerdict:
    implementation = implementation or refbp_implementation()
    start = time.perf_counter()
    verdict = CaseVerdict(case=case.id, implementation=implementation.name, passed=False,
                          path=case.label(), title=case.title, network=case.network.describe(), dtype=case.dtype)
    trace = implementation.trace(case)
    if "torch" in oracles:
        verdict.checks += torch_checks(case, trace)
    if "fd" in oracles and implementation.loss_function is not None:
        verdict.checks += finite_difference_checks(case, trace, implementation.loss_function, fd_method)
    if "expected" in oracles and case.expected is not None:
        verdict.checks += expected_checks(case, trace)
    verdict.passed = all(c.passed for c in verdict.checks) and not verdict.errors
    verdict.seconds = time.perf_counter() - start
    return verdict


def rows(quantity: str, actual: dict, reference: dict, reference_name: str, tolerance,
         skips: dict | None = None, method: str = "", missing_ok: bool = False) -> list[Check]:
    """One row per tensor of `reference`; a tensor the implementation lacks is a failed row."""
    result = []
    for name, ref in reference.items():
        if name not in actual or actual[name] is None:
            if not missing_ok:
                result.append(Check(quantity, name, reference_name, np.inf, np.inf, [], tolerance.atol,
                                    tolerance.rtol, False, note="not computed by the implementation"))
            continue
        skip = None if skips is None else skips.get(name)
        comparison = compare(actual[name], ref, tolerance.atol, tolerance.rtol, skip=skip)
        skipped = int(skip.sum()) if skip is not None else 0
        note = comparison.note
        if skipped:
            note = (note + "; " if note else "") + f"{skipped} entries at non-differentiable points, not judged"
        result.append(Check(
            quantity=quantity, tensor=name, reference=reference_name,
            max_abs_err=comparison.max_abs_err, max_rel_err=comparison.max_rel_err,
            worst_index=comparison.worst_index, atol=tolerance.atol, rtol=tolerance.rtol,
            passed=comparison.passed, note=note, checked=comparison.checked, nondifferentiable=skipped,
            actual=comparison.actual, expected_value=comparison.reference, method=method,
        ))
    return result


def torch_checks(case: Case, trace: Trace) -> list[Check]:
    from oracle import torch_reference  # imported here: torch is slow to import, and only this needs it

    ref = torch_reference.trace(case)
    tol = tolerance_for(case, "torch-autograd")
    name = "torch-autograd"
    checks = rows("outputs", {"outputs": trace.outputs}, {"outputs": ref.outputs}, name, tol)
    checks += rows("loss", {"loss": trace.loss}, {"loss": ref.loss}, name, tol)
    checks += rows("intermediates", trace.intermediates, ref.intermediates, name, tol)
    checks += rows("grads", trace.grads, ref.grads, name, tol)
    checks += rows("input_grads", trace.input_grads, ref.input_grads, name, tol)
    if ref.params_after is not None:
        checks += rows("params_after", trace.params_after or {}, ref.params_after, name, tol)
        checks += rows("loss_after", {"loss": trace.loss_after}, {"loss": ref.loss_after}, name, tol)
    return checks


def finite_difference_checks(case: Case, trace: Trace, loss_function, method: str | None) -> list[Check]:
    from oracle import finite_diff

    loss, probe = loss_function(case)
    fd = finite_diff.central_difference(loss, case.params, probe=probe)
    skips = {name: fd.kink_mask(name) for name in fd.kinks}
    checks = rows("grads", trace.grads, fd.grads, "finite-difference", tolerance_for(case, "finite-difference"),
                  skips=skips, method=fd.method)
    for check in checks:
        if check.tensor in fd.kinks:
            units = sorted(set(fd.kinks[check.tensor].values()))
            shown = ", ".join(units[:3]) + (f" and {len(units) - 3} more" if len(units) > 3 else "")
            check.note += f" (units at their kink: {shown})"
    return checks


def expected_checks(case: Case, trace: Trace) -> list[Check]:
    expected = case.expected
    tol = expected.tolerance
    name = "expected"
    checks = []
    if expected.outputs is not None:
        checks += rows("outputs", {"outputs": trace.outputs}, {"outputs": expected.outputs}, name, tol)
    if expected.loss is not None:
        checks += rows("loss", {"loss": trace.loss}, {"loss": expected.loss}, name, tol)
    checks += rows("intermediates", trace.intermediates, expected.intermediates, name, tol)
    checks += rows("grads", trace.grads, expected.grads, name, tol)
    checks += rows("params_after", trace.params_after or {}, expected.params_after, name, tol)
    if expected.loss_after is not None:
        checks += rows("loss_after", {"loss": trace.loss_after}, {"loss": expected.loss_after}, name, tol)
    return checks
