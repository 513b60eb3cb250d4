"""The finite-difference rows: an answer's gradients against finite differences of a loss,
with the entries finite differences cannot judge left to the torch rows (or inconclusive), and
a short note of how the entries were judged."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from refbp.cases import Case, Tolerance
from refbp.oracle.fd import FiniteDifference
from refbp.oracle.fd.refine import output_rounding

from ..loss_forms import LossForms
from ..nn.backend import serial_blas
from ..trace import Trace
from .conventions import Admissible
from .fd_directional import default_fd_method, directional_row
from .fd_reference import KINK, escalate_failures, mark_convention_points, reason_word, unjudged_entries
from .notes import short_note
from .references import FRESH, References
from .rows import rows
from .tolerance import FD_ERROR_FACTOR, fd_tolerance
from .verdict import Check, EntryRecord, VerdictState


def finite_difference_checks(
    case: Case,
    trace: Trace,
    forms: LossForms,
    method: str | None,
    references: References | None = None,
    fingerprint: str = "",
    admissible: Admissible | None = None,
    judged_elsewhere: bool = True,
) -> list[Check]:
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
        result = escalate_failures(
            forms, case.params, trace.grads, result, tolerance, output_rounding(case.loss, trace.outputs, case.targets)
        )
    if method == "directional":
        return [directional_row(trace, result, tolerance, judged_elsewhere)]
    return judged_rows(case, trace, result, "finite-difference", tolerance, result.method, judged_elsewhere)


def judged_rows(
    case: Case,
    trace: Trace,
    result: FiniteDifference,
    reference: str,
    tolerance: Tolerance,
    method: str,
    judged_elsewhere: bool,
) -> list[Check]:
    """One row per tensor of the gradients against `result`: its kinks not judged, its error
    estimates allowed (FD_ERROR_FACTOR times), each row described (`describe`)."""
    skips = {name: result.kink_mask(name) for name in result.kinks}
    allowances = {name: FD_ERROR_FACTOR * e for name, e in result.errors.items()}
    checks = rows(
        "grads", trace.grads, result.grads, reference, tolerance, skips=skips, method=method, allowances=allowances
    )
    return [
        describe(
            check,
            result,
            tolerance,
            skips.get(check.tensor),
            allowances[check.tensor],
            judged_elsewhere,
            case.id,
            trace.grads.get(check.tensor),
        )
        for check in checks
    ]


def describe(
    check: Check,
    result: FiniteDifference,
    tolerance: Tolerance,
    skip: np.ndarray | None,
    allowance: np.ndarray,
    judged_elsewhere: bool,
    case_id: str = "",
    actual: Any = None,
) -> Check:
    """The row with its step, error estimate, inconclusive count, short note (how many entries were
    judged by which method, how many not and why) and entries (those not plainly passing)."""
    name = check.tensor
    fd = result.grads[name]
    skip = np.zeros(fd.shape, dtype=bool) if skip is None else skip
    step = float(np.nanmax(result.steps[name], initial=0.0))
    error_estimate = float(np.nanmax(result.errors[name], initial=0.0))
    evaluated = np.isfinite(result.steps[name])
    judged = evaluated & ~skip & np.isfinite(fd)
    weak = judged & (allowance > tolerance.atol + tolerance.rtol * np.abs(fd))
    judged_by = result.judged_by.get(name, {})
    counts = judged_counts(judged, judged_by, result.method)
    reasons: dict[str, list[str]] = {}  # why, and the units (or the word) of each entry left unjudged
    for reason in result.kinks.get(name, {}).values():
        reasons.setdefault(reason_word(reason), []).append(reason)
    for reason, found in reasons.items():
        counts[f"not judged:{reason}"] = len(found)
    if weak.any():
        counts["weak:FD error above the tolerance"] = int(weak.sum())
    unjudged = unjudged_entries(result, name)
    passed, inconclusive = check.passed, check.inconclusive
    if unjudged:  # a NaN finite difference is left out of the comparison: never silently
        passed = False
        counts["failed:no finite finite difference (the loss is not finite there)"] = unjudged
    if not judged_elsewhere:  # no torch row judges what finite differences cannot
        inconclusive = int(skip.sum() + weak.sum())
    if result.method == "sampled":
        counts["not judged:not sampled"] = int(np.sum(~evaluated))
    units = sorted({r for r in result.kinks.get(name, {}).values() if reason_word(r) == KINK})
    words = [short_note(counts)]
    if reasons:
        words.append("torch judges those not judged" if judged_elsewhere else "those not judged are inconclusive")
    if units:
        more = f" +{len(units) - 3} more" if len(units) > 3 else ""
        words.append("units at their kink: " + ", ".join(units[:3]) + more)
    if result.largest_noise:
        words.append(f"loss noise up to {result.largest_noise:.2g}")
    first = "" if check.note == "no entry to judge" else check.note  # the counts say so
    return replace(
        check,
        step=step,
        error_estimate=error_estimate,
        passed=passed,
        inconclusive=inconclusive,
        note="; ".join(filter(None, [first, *words, *result.notes])),
        entries=tuple(entries(check, result, case_id, actual, weak, judged_by)),
    )


def judged_counts(judged: np.ndarray, judged_by: dict[int, str], method: str) -> dict[str, int]:
    """{"judged:<method>": entries} of the `judged` mask, each entry by its `judged_by` method or
    `method`, the keys in the order of their first entry (a loop over the replaced entries
    only: a tensor's every entry would cost a Python step each)."""
    flat = judged.reshape(-1)
    first: dict[str, int] = {}
    counts: dict[str, int] = {}
    for index, by in judged_by.items():
        if flat[int(index)]:
            counts[by] = counts.get(by, 0) + 1
            first[by] = min(first.get(by, flat.size), int(index))
    replaced = np.zeros(flat.size, dtype=bool)
    replaced[np.fromiter(judged_by, dtype=np.int64, count=len(judged_by))] = True
    plain = np.flatnonzero(flat & ~replaced)
    if plain.size:
        counts[method] = counts.get(method, 0) + int(plain.size)
        first[method] = min(first.get(method, flat.size), int(plain[0]))
    return {f"judged:{by}": counts[by] for by in sorted(counts, key=lambda by: first[by])}


MAX_ENTRIES = 20  # per row, in the report's entries.csv


def entries(
    check: Check, result: FiniteDifference, case_id: str, actual: Any, weak: np.ndarray, judged_by: dict[int, str]
) -> list[EntryRecord]:
    """The row's entries that are not plainly passing (not judged, or judged loosely): at most
    MAX_ENTRIES."""
    name = check.tensor
    fd = result.grads[name]
    actual = None if actual is None or np.shape(actual) != fd.shape else np.asarray(actual, dtype=np.float64)
    kinks = result.kinks.get(name, {})
    listed = [
        EntryRecord(
            case_id,
            "grads",
            name,
            check.reference,
            tuple(index),
            VerdictState.NOT_JUDGED,
            result.method,
            _at(actual, index),
            float(fd[index]),
            reason,
        )
        for index, reason in list(kinks.items())[:MAX_ENTRIES]
    ]
    for flat in np.flatnonzero(weak)[: MAX_ENTRIES - len(listed)]:
        index = tuple(int(i) for i in np.unravel_index(int(flat), fd.shape))
        listed.append(
            EntryRecord(
                case_id,
                "grads",
                name,
                check.reference,
                index,
                VerdictState.WEAK,
                judged_by.get(int(flat), result.method),
                _at(actual, index),
                float(fd[index]),
                "the finite difference's error estimate is above the tolerance",
            )
        )
    return listed


def _at(actual: np.ndarray | None, index: Sequence[int]) -> float:
    return float("nan") if actual is None else float(actual[tuple(index)])
