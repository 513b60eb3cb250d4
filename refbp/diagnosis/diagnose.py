"""The diagnosis of a failed check row: which classic bug the wrong tensor looks like.

First the closed-form signatures (refbp.diagnosis.signatures: zeros, a transpose, a constant
ratio); then the catalogue's bugged references (refbp.diagnosis.catalogue), the answer compared
with each under the row's tolerance, the closest within it winning (a tie names the others);
then a few wrong entries; else `unknown`. A constant ratio that a catalogued bug explains
(mse's mean forgotten) is named by that bug. Runs on failed rows only; every re-derivation is
done once per case and variant.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from ..trace import Trace
from .catalogue import bugged_references, family
from .clipping import clipped
from .signatures import (
    SIGNATURES,
    closed_form,
    excess,
    shape_signature,
    within,
    wrong_entries,
)
from .training import derive, train
from .variant import CORRECT, Variant

BACKWARD_QUANTITIES = ("grads", "input_grads", "params_after", "loss_after")


class References:
    """The case's correct and bugged re-derivations, each computed once, on demand."""

    def __init__(self, case):
        self.case = case
        self._traces: dict[Variant, Trace] = {}
        self._trained: dict[Variant, tuple[dict, float | None]] = {}
        self.catalogue = bugged_references(case)
        self.answer: Trace | None = None  # the implementation's whole answer (clipping by the global norm)

    def trace(self, variant: Variant = CORRECT) -> Trace:
        if variant not in self._traces:
            with np.errstate(all="ignore"):
                self._traces[variant] = derive(self.case, None, variant)
        return self._traces[variant]

    def trained(self, variant: Variant = CORRECT) -> tuple[dict, float | None]:
        if variant not in self._trained:
            with np.errstate(all="ignore"):
                self._trained[variant] = train(self.case, variant)
        return self._trained[variant]

    def value(self, quantity: str, tensor: str, variant: Variant = CORRECT):
        """The row's tensor in the re-derivation with `variant` (None when it has no such tensor)."""
        if quantity in ("params_after", "loss_after"):
            if self.case.train is None:
                return None
            params, loss = self.trained(variant)
            return loss if quantity == "loss_after" else params.get(tensor)
        trace = self.trace(variant)
        if quantity == "outputs":
            return trace.outputs
        if quantity == "loss":
            return trace.loss
        return getattr(trace, quantity).get(tensor)

    def per_example(self, tensor: str):
        """dL/d`tensor` of every example, stacked [B, ...]."""
        return np.stack([self.trace(Variant(example=b)).grads[tensor] for b in range(self.case.batch)])


def actual_value(trace: Trace, quantity: str, tensor: str):
    if quantity == "outputs":
        return trace.outputs
    if quantity in ("loss", "loss_after"):
        return getattr(trace, quantity)
    return (getattr(trace, quantity) or {}).get(tensor)


def diagnose_checks(
    case: Any,
    trace: Trace,
    checks: Iterable[Any],
    references: References | None = None,
    given: Mapping[tuple[str, str], Any] | None = None,
) -> list[Any]:
    """`checks`, each failed row that has no diagnosis made anew with its `diagnosis` and
    `diagnosis_note` (rows are frozen records: dataclasses.replace). `given` ({(quantity, tensor):
    array}): answers the trace could not hold (a result's wrong shape)."""
    checks = list(checks)
    failed = [i for i, c in enumerate(checks) if not c.passed and not c.diagnosis]
    if not failed:
        return checks
    # The forward is never blamed where it agrees with torch's (its outputs and loss rows passed).
    forward_agrees = forward_agrees_with_torch(checks)
    references = references or References(case)
    references.answer = trace
    for i in failed:
        check = checks[i]
        found = (given or {}).get((check.quantity, check.tensor))
        if found is None:
            found = actual_value(trace, check.quantity, check.tensor)
        diagnosis, note = diagnose_row(check, found, references)
        if diagnosis == "forward-mismatch" and forward_agrees:
            diagnosis, note = (
                "unknown",
                (
                    "the answer matches the definition and the forward agrees with torch's: the finite differences of "
                    "the forward disagree here (a non-smooth point they did not see)"
                ),
            )
        checks[i] = replace(check, diagnosis=diagnosis, diagnosis_note=note)
    return checks


def forward_agrees_with_torch(checks) -> bool:
    """The outputs and loss rows against torch autograd exist and passed."""
    forward = [c for c in checks if c.reference == "torch-autograd" and c.quantity in ("outputs", "loss")]
    return bool(forward) and all(c.passed for c in forward)


def diagnose_row(check, actual, references: References) -> tuple[str, str]:
    if check.tensor.startswith("<grads, u>"):
        return "unknown", "one number per random direction over every gradient: see the per-tensor rows"
    if actual is None:
        return "missing", SIGNATURES["missing"]
    reference = references.value(check.quantity, check.tensor)
    if reference is None:
        return "unknown", SIGNATURES["unknown"]
    actual, reference = np.asarray(actual, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    atol, rtol = check.atol, check.rtol
    if actual.shape != reference.shape:
        by_example = check.quantity == "grads" and references.case.batch > 1
        per_example = references.per_example(check.tensor) if by_example else None
        return shape_signature(actual, reference, per_example, atol, rtol) or (
            "unknown",
            f"shape {list(actual.shape)} where the reference has {list(reference.shape)}",
        )
    if not np.all(np.isfinite(actual)):
        return "non-finite", SIGNATURES["non-finite"]
    # Right by the definition, wrong by this row's reference. A published row's atol is its widest
    # entry's printed-digit allowance (0.05 for a value printed with one decimal): the definition
    # is matched only within float64 agreement there, never within that.
    definition = (0.0, 1e-7) if check.reference == "expected" else (atol, rtol)
    if within(actual, reference, *definition):
        if check.reference in ("finite-difference", "own-forward-fd"):
            return "forward-mismatch", SIGNATURES["forward-mismatch"]
        return "unknown", "the answer matches the definition (refbp's float64 re-derivation); this reference does not"
    if check.quantity == "params_after":  # a wrong update shows in the step taken, not in the parameters
        start = np.asarray(references.case.params[check.tensor], dtype=np.float64)
        signature = closed_form(actual - start, reference - start, atol, rtol, references.case)
    else:
        signature = closed_form(actual, reference, atol, rtol, references.case)
    if signature is not None and not signature[0].startswith("scaled:"):
        return signature
    if check.quantity in BACKWARD_QUANTITIES:
        matched = catalogue_match(check, actual, references)
        if matched is not None:
            bug_id, note = matched
            return bug_id, note + (f" ({signature[1][0].lower()}{signature[1][1:]})" if signature else "")
    if check.quantity in ("grads", "params_after"):
        found = clipped(  # type: ignore[call-arg]  # _moved gives the (answer, reference) pair
            *_moved(check.quantity, check.tensor, actual, reference, references),
            atol,
            rtol,
            _whole(check.quantity, references),
        )
        if found is not None:
            return found
    if signature is not None:
        return signature
    return wrong_entries(actual, reference, atol, rtol, check.tensor) or ("unknown", SIGNATURES["unknown"])


def _moved(quantity: str, tensor: str, actual, reference, references: References):
    """(answer, reference) as clipping sees them: a gradient, or the step a training took."""
    if quantity != "params_after":
        return actual, reference
    start = np.asarray(references.case.params[tensor], dtype=np.float64)
    return actual - start, reference - start


def _whole(quantity: str, references: References) -> dict:
    """{tensor: (answer, reference)} of every tensor of `quantity` the answer gives."""
    given = (getattr(references.answer, quantity, None) or {}) if references.answer is not None else {}
    whole = {}
    for name, value in given.items():
        ref = references.value(quantity, name)
        if ref is None or np.shape(value) != np.shape(ref):
            continue
        whole[name] = _moved(
            quantity, name, np.asarray(value, dtype=np.float64), np.asarray(ref, dtype=np.float64), references
        )
    return whole


def catalogue_match(check, actual, references: References) -> tuple[str, str] | None:
    """The catalogued bug whose bugged reference is closest to `actual`, within the row's tolerance."""
    training_row = check.quantity in ("params_after", "loss_after")
    matches = []
    for bug, bug_id, variant, detail in references.catalogue:
        if bug.training_only and not training_row:
            continue
        value = references.value(check.quantity, check.tensor, variant)
        if value is None:
            continue
        distance = excess(actual, value, check.atol, check.rtol)
        if distance <= 1.0:
            matches.append((distance, bug_id, detail))
    if not matches:
        return None
    matches.sort(key=lambda m: m[0])
    _, bug_id, detail = matches[0]
    others = list(dict.fromkeys(m[1] for m in matches[1:] if m[1] != bug_id))
    note = f"{family(bug_id).explanation} (the reference recomputed with this bug matches)"
    if detail:
        note += f"; {detail}"
    if others:
        note += f"; a tie: it matches {', '.join(others)} as well on this tensor"
    return bug_id, note
