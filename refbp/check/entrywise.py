"""Comparing one computed tensor with its reference, entry by entry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

TINY = np.finfo(np.float64).tiny


@dataclass
class Comparison:
    passed: bool
    max_abs_err: float
    max_rel_err: float
    # The entry furthest out of tolerance (relative to atol + rtol |ref|); [] for a scalar.
    worst_index: list[int]
    actual: float
    reference: float
    checked: int
    note: str = ""


def compare(
    actual: Any, reference: Any, atol: float, rtol: float, skip: Any = None, allowance: Any = None
) -> Comparison:
    """Judge `actual` against `reference`.

    `allowance` (same shape, optional) widens each entry's tolerance: a finite difference's
    own estimated error (see refbp.check.tolerance).

    NaN entries of the reference (published values the source does not print) and entries
    where `skip` is True (non-differentiable points) are not judged. A non-finite actual
    value always fails.
    """
    actual = np.asarray(actual, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    if actual.shape != reference.shape:
        return Comparison(
            False,
            np.inf,
            np.inf,
            [],
            np.nan,
            np.nan,
            0,
            note=f"shape {list(actual.shape)} where the reference has {list(reference.shape)}",
        )
    judged = ~np.isnan(reference)
    if skip is not None:
        judged &= ~skip
    count = int(judged.sum())
    if count == 0:
        return Comparison(True, 0.0, 0.0, [], np.nan, np.nan, 0, note="no entry to judge")
    a, r = actual[judged], reference[judged]
    extra = 0.0 if allowance is None else np.asarray(allowance, dtype=np.float64)[judged]
    with np.errstate(invalid="ignore", over="ignore"):
        abs_err = np.abs(a - r)
        rel_err = abs_err / np.maximum(np.maximum(np.abs(a), np.abs(r)), TINY)
        excess = abs_err / (atol + rtol * np.abs(r) + extra + TINY)
    bad = ~np.isfinite(a)
    abs_err[bad] = np.inf
    rel_err[bad] = np.inf
    excess[bad] = np.inf
    worst = int(np.argmax(excess))
    full_index = np.argwhere(judged)[worst]
    return Comparison(
        passed=bool(np.all(excess <= 1.0)),
        max_abs_err=float(abs_err.max()),
        max_rel_err=float(rel_err.max()),
        worst_index=[int(i) for i in full_index],
        actual=float(a[worst]),
        reference=float(r[worst]),
        checked=count,
    )
