"""Low precision judged against torch's own error: the measuring stick, entry by entry.

For a case computed in float32, float16 or bfloat16, torch itself runs the case at that
precision on the CPU (refbp.oracle.same_precision), beside the float64 reference. At each entry

    allowed = max(K x E,  FLOOR_ULPS x eps(dtype) x S + tiny(dtype)),
    E = max over the tensor of |torch at that precision - float64|,  S = max over it of |float64|

(K, FLOOR_ULPS in refbp.check.tolerance's table; float32 keeps its derived rule as well, the
larger of the two). An entry whose torch answer is not finite where float64's is (an overflow at
that precision) cannot be judged by this stick, and no entry of a tensor where K x E reaches the
tensor's own scale (its largest |float64| entry: any answer of that size, 0 or the opposite sign
included, would pass): they are inconclusive, never a pass and never a failure. Each row carries
torch's own largest error beside the implementation's (`torch_error`), and its note both.
docs/precision.md gives the argument.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from refbp.cases import Case, Tolerance
from refbp.cases.dtypes import EPSILON

from ..trace import Trace
from .conventions import Admissible
from .rows import rows
from .stick import judged_by_stick, rounding_terms, torch_at_precision
from .tolerance import (
    PRECISION_FINDING_ULPS,
    SAME_PRECISION_FLOOR_ULPS,
    SAME_PRECISION_K,
    SAME_PRECISION_TERMS_ULPS,
    allowance,
)
from .verdict import Check

REFERENCE = "torch-autograd"
QUANTITIES = ("outputs", "loss", "intermediates", "grads", "input_grads", "params_after", "loss_after")
# The quantities whose entries get a floor at the size of their own terms (refbp.oracle.rounding_terms).
TERMS_QUANTITIES = ("outputs", "intermediates", "grads", "input_grads")
# What a slope at a kink reaches: the derivatives, and training through them.
DERIVATIVES = ("grads", "input_grads", "params_after", "loss_after")


def tensors(trace: Trace, quantity: str) -> dict[str, Any]:
    """{name: array} of `quantity` in `trace` (the scalars under their row's name)."""
    if quantity == "outputs":
        return {"outputs": trace.outputs}
    if quantity in ("loss", "loss_after"):
        value = trace.loss if quantity == "loss" else trace.loss_after
        return {} if value is None else {"loss": value}
    return dict(getattr(trace, quantity) or {})


def stick_rows(case: Case, trace: Trace, admissible: Admissible) -> list[Check]:
    """The torch-autograd rows of a low-precision case, each entry within its allowance."""
    reference, at_precision = admissible.variants[0].trace, torch_at_precision(case)
    # float32's rule has its own conventions at kinks (refbp.check.conventions): only float16 and
    # bfloat16, whose rounding reaches far further from 0, leave a flipped slope undecided.
    kink = near_kink(case, reference, at_precision) if case.dtype != "float32" else ""
    outputs = float(np.max(np.abs(np.asarray(reference.outputs, dtype=np.float64)), initial=0.0))
    entries = rounding_terms(case, reference)  # the size of the terms behind each entry
    checks = []
    for quantity in QUANTITIES:
        references = tensors(reference, quantity)
        if quantity in ("params_after", "loss_after") and reference.params_after is None:
            continue
        actual = tensors(trace, quantity)
        theirs = tensors(at_precision, quantity)
        for name, ref in references.items():
            terms = _terms(case, quantity, name, ref, outputs)
            allowed, blind, error = allowance(
                case, ref, theirs.get(name, np.nan), terms, entries.get(quantity, {}).get(name)
            )
            flipped = _beyond(actual.get(name), ref, allowed, blind) if kink and quantity in DERIVATIVES else None
            (row,) = rows(
                quantity,
                actual,
                {name: ref},
                REFERENCE,
                Tolerance(atol=0.0, rtol=0.0),
                skips={name: blind if flipped is None else blind | flipped},
                allowances={name: allowed},
                admissible=admissible if quantity not in ("outputs", "intermediates") else None,
            )
            checks.append(_described(case, row, allowed, blind, error, flipped, kink))
    return checks


def _terms(case: Case, quantity: str, name: str, reference: Any, outputs: float) -> float:
    """The size of the terms behind a tensor where its own entries understate it: a loss is reduced
    from the outputs; a parameter after training is its value before plus the steps taken (a
    difference that may cancel)."""
    if quantity in ("loss", "loss_after"):
        return outputs
    if quantity == "params_after" and name in case.params:
        before = np.asarray(case.params[name], dtype=np.float64)
        with np.errstate(invalid="ignore"):
            steps = np.abs(before - np.asarray(reference, dtype=np.float64))
        return float(np.nanmax(np.concatenate([np.abs(before).ravel(), steps.ravel(), [0.0]])))
    return 0.0


def near_kink(case: Case, reference: Trace, at_precision: Trace) -> str:
    """The first relu-family unit whose float64 net lies within the precision's reach of its kink
    (within what the net's own row allows), as `name[index]`; "" where none does. There torch at
    that precision and an honest implementation may each take either slope: a derivative that
    differs there beyond the stick cannot be judged."""
    from refbp.oracle.torch_loss import kinked_intermediates

    nets = rounding_terms(case, reference).get("intermediates", {})
    for name in kinked_intermediates(case.network):
        net, theirs = reference.intermediates.get(name), at_precision.intermediates.get(name)
        if net is None or theirs is None:
            continue
        allowed, _, _ = allowance(case, net, theirs, entry_terms=nets.get(name))
        close = np.abs(net) <= allowed
        if close.any():
            index = np.unravel_index(int(np.argmax(close)), close.shape)
            return name + "".join(f"[{int(i)}]" for i in index)
    return ""


def _beyond(actual: Any, reference: Any, allowed: np.ndarray, blind: np.ndarray) -> np.ndarray | None:
    """Entries of a derivative outside their allowance (None where the answer has another shape)."""
    if actual is None or np.shape(actual) != np.shape(reference):
        return None
    with np.errstate(invalid="ignore"):
        outside: np.ndarray = (
            ~blind
            & np.isfinite(np.asarray(actual, dtype=np.float64))
            & (np.abs(np.asarray(actual, dtype=np.float64) - reference) > allowed)
        )
    return outside


def _described(
    case: Case,
    row: Check,
    allowed: np.ndarray,
    blind: np.ndarray,
    error: float,
    flipped: np.ndarray | None = None,
    kink: str = "",
) -> Check:
    """The row's atol is its widest entry allowance (what the diagnosis judges within), rtol 0;
    `torch_error` torch's own largest error; the note puts both errors side by side."""
    flips = 0 if flipped is None else int(np.sum(flipped))
    judged = ~np.asarray(blind)
    count = int(np.sum(blind)) + flips
    words = [
        f"error {_short(row.max_abs_err)} vs torch {case.dtype}'s own {_short(error)}"
        f" (allowed: max({SAME_PRECISION_K:g} x torch's, {SAME_PRECISION_FLOOR_ULPS:g} eps x the tensor's scale"
        f"{_entry_words(row.quantity)}))"
    ]
    if count - flips:
        words.append(f"{count - flips} inconclusive (torch {case.dtype} itself has no digit there)")
    if flips:
        words.append(
            f"{flips} inconclusive (beyond the allowance, a relu-family unit within {case.dtype} "
            f"rounding of its kink: {kink})"
        )
    return replace(
        row,
        nondifferentiable=max(0, row.nondifferentiable - count),
        inconclusive=count,
        atol=float(np.max(np.asarray(allowed)[judged], initial=0.0)),
        rtol=0.0,
        torch_error=error,
        note="; ".join(filter(None, [row.note, *words])),
    )


def _entry_words(quantity: str) -> str:
    return f", {SAME_PRECISION_TERMS_ULPS:g} eps x each entry's terms" if quantity in TERMS_QUANTITIES else ""


def _short(value: float) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.3g}"


def reconcile(case: Case, checks: list[Check]) -> list[Check]:
    """A finite-difference or own-forward-fd row of a tensor whose torch row is inconclusive at the
    case's precision (torch overflowed there, or has no digit of it, or a unit sits within rounding
    of its kink) cannot say more than that row: where it failed, it is inconclusive too (counted,
    never a pass), its diagnosis dropped. Rows are frozen: a changed one is a new row."""
    if not judged_by_stick(case):
        return checks
    torch_rows = {(c.quantity, c.tensor): c for c in checks if c.reference == REFERENCE}
    reconciled = []
    for check in checks:
        mirror = torch_rows.get((check.quantity, check.tensor))
        if (
            check.reference != REFERENCE
            and check.reference != "expected"
            and not check.passed
            and mirror is not None
            and mirror.passed
            and mirror.inconclusive
        ):
            note = "; ".join(filter(None, [check.note, f"inconclusive: as torch {case.dtype}'s own row"]))
            check = replace(
                check, passed=True, inconclusive=max(1, check.checked), diagnosis="", diagnosis_note="", note=note
            )
        reconciled.append(check)
    return reconciled


def name_precision_findings(case: Case, checks: list[Check], reference: Trace) -> list[Check]:
    """A failed row of a low-precision case that no catalogued bug explains ("unknown", or
    "non-finite" where torch at that precision stays finite) and whose error stays within
    PRECISION_FINDING_ULPS spacings of the dtype at the tensor's scale is a precision finding:
    right formula, too much rounding (a long sum accumulated in float16, a softmax without its
    maximum subtracted that overflows). Its diagnosis becomes `precision`, the note says so.
    A training row (params_after, loss_after) is not one where a gradient row failed for another
    reason: the step was taken with a wrong gradient, and its error is that gradient's.
    Rows are frozen: a changed one is a new row."""
    if not judged_by_stick(case):
        return checks
    torch_rows = {(c.quantity, c.tensor): c for c in checks if c.reference == REFERENCE}
    named = [
        _precision_finding(case, check, torch_rows.get((check.quantity, check.tensor)), reference) for check in checks
    ]
    if any(not c.passed and c.quantity == "grads" and c.diagnosis != "precision" for c in named):
        named = [
            original if check.quantity in TRAINING_QUANTITIES else check
            for original, check in zip(checks, named, strict=True)
        ]
    return named


TRAINING_QUANTITIES = ("params_after", "loss_after")


def _precision_finding(case: Case, check: Check, mirror: Check | None, reference: Trace) -> Check:
    """`check`, diagnosed `precision` where it is a precision finding (name_precision_findings)."""
    eps = EPSILON[case.dtype]
    if check.passed or mirror is None or check.diagnosis not in ("unknown", "non-finite", ""):
        return check
    values = tensors(reference, check.quantity).get(check.tensor)
    if values is None or not np.isfinite(mirror.torch_error):
        return check
    scale = float(np.max(np.abs(values), initial=0.0))
    torch_words = f"torch {case.dtype}'s own error {mirror.torch_error:.3g}"
    if not np.isfinite(check.max_abs_err):
        note = (
            f"a precision finding: not finite in {case.dtype} where {torch_words} is finite (an overflow: "
            "an exp or a square in the dtype, e.g. a softmax without its maximum subtracted)"
        )
    elif check.max_abs_err <= PRECISION_FINDING_ULPS * eps * scale:
        note = (
            f"a precision finding: off by {check.max_abs_err / (eps * scale):.0f} spacings of {case.dtype} "
            f"at the tensor's scale {scale:.3g} ({torch_words}): the formula is right, the rounding is not "
            "(e.g. a long sum accumulated in the dtype where torch accumulates in float32)"
        )
    else:
        return check
    return replace(check, diagnosis="precision", diagnosis_note=note)
