"""Diagnosis of wrong gradients: which classic bug a failed row looks like, and where it starts.

`diagnose_verdict` gives each failed row its `diagnosis` (a stable id: docs/formats.md section 4)
and `diagnosis_note`, and the verdict's `first_departure`. Its references are a float64
re-derivation written here from the definitions (refbp.diagnosis.mlp, .rnn, .training), with the
classic bugs of refbp.diagnosis.catalogue switched on one at a time; nothing here imports
refbp.nn (the code it diagnoses), oracle or torch.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..trace import Trace
from .catalogue import BUGS, CATALOGUE, Bug, bugged_references
from .departure import first_departure
from .diagnose import References, diagnose_checks, diagnose_row
from .signatures import SIGNATURES
from .variant import CORRECT, Variant

__all__ = [
    "BUGS",
    "CATALOGUE",
    "CORRECT",
    "SIGNATURES",
    "Bug",
    "References",
    "Variant",
    "bugged_references",
    "diagnose_checks",
    "diagnose_row",
    "diagnose_verdict",
    "first_departure",
]


def diagnose_verdict(case: Any, trace: Trace, verdict: Any, atol: float, rtol: float) -> Any:
    """`verdict` with every failed row diagnosed and where the answer first departs said (the
    torch-autograd tolerance `atol`, `rtol` judges intermediates and error signals); a new
    verdict where anything changed (verdicts are frozen records: dataclasses.replace)."""
    failed = [c for c in verdict.checks if not c.passed]
    if not failed:
        return verdict
    references = References(case)
    checks = diagnose_checks(case, trace, verdict.checks, references)
    verdict = replace(verdict, checks=checks)
    judged = {c.quantity for c in checks if not c.passed and c.diagnosis != "missing"}
    if judged:
        verdict = replace(verdict, first_departure=first_departure(case, trace, references.trace(), atol, rtol, judged))
    return verdict
