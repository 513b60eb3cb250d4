"""One check row per tensor: an answer compared with a reference, entry by entry (with the
admissible values under the conventions, where the case reaches a choice)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from refbp.cases import Tolerance

from .conventions import Admissible
from .entrywise import compare
from .verdict import Check


def rows(
    quantity: str,
    actual: Mapping[str, Any],
    reference: Mapping[str, Any],
    reference_name: str,
    tolerance: Tolerance,
    skips: Mapping[str, Any] | None = None,
    method: str = "",
    allowances: Mapping[str, Any] | None = None,
    admissible: Admissible | None = None,
) -> list[Check]:
    """One row per tensor of `reference`; a tensor the implementation lacks is a failed row.
    With `admissible` (the torch reference under each convention the case reaches), each entry
    is compared with the admissible value nearest to it, and the row names the convention."""
    result = []
    for name, ref in reference.items():
        if name not in actual or actual[name] is None:
            result.append(
                Check(
                    quantity=quantity,
                    tensor=name,
                    reference=reference_name,
                    max_abs_err=np.inf,
                    max_rel_err=np.inf,
                    worst_index=[],
                    atol=tolerance.atol,
                    rtol=tolerance.rtol,
                    passed=False,
                    note="not computed by the implementation",
                )
            )
            continue
        skip = None if skips is None else skips.get(name)
        allowance = None if allowances is None else allowances.get(name)
        convention = ""
        if admissible is not None:
            ref, convention = admissible.nearest(quantity, name, actual[name], tolerance.atol, tolerance.rtol)
        comparison = compare(actual[name], ref, tolerance.atol, tolerance.rtol, skip=skip, allowance=allowance)
        skipped = int(skip.sum()) if skip is not None else 0
        diagnosis = diagnosis_note = ""
        if admissible is not None and not comparison.passed and admissible.others:
            other = admissible.other_convention(quantity, name, actual[name], tolerance.atol, tolerance.rtol)
            if other:  # --conventions torch: a legitimate convention that torch does not take
                diagnosis = "convention"
                diagnosis_note = (
                    f"follows another convention ({other}), not torch's own choice "
                    "(--conventions torch admits torch's only)"
                )
        result.append(
            Check(
                quantity=quantity,
                tensor=name,
                reference=reference_name,
                max_abs_err=comparison.max_abs_err,
                max_rel_err=comparison.max_rel_err,
                worst_index=comparison.worst_index,
                atol=tolerance.atol,
                rtol=tolerance.rtol,
                # finite-difference rows add to the note why entries were skipped (refbp.check.fd_rows)
                passed=comparison.passed,
                note=comparison.note,
                checked=comparison.checked,
                nondifferentiable=skipped,
                actual=comparison.actual,
                expected_value=comparison.reference,
                method=method,
                convention=convention,
                diagnosis=diagnosis,
                diagnosis_note=diagnosis_note,
            )
        )
    return result
