"""Diagnosis of wrong gradients: which classic bug a failed row looks like, and where it starts.

`diagnose_verdict` fills each failed row's `diagnosis` (a stable id: docs/formats.md section 4)
and `diagnosis_note`, and the verdict's `first_departure`. Its references are a float64
re-derivation written here from the definitions (refbp.diagnosis.mlp, .rnn, .training), with the
classic bugs of refbp.diagnosis.catalogue switched on one at a time; nothing here imports
refbp.nn (the code it diagnoses), oracle or torch.
"""

from __future__ import annotations

from .catalogue import BUGS, CATALOGUE, Bug, bugged_references
from .departure import first_departure
from .diagnose import References, diagnose_checks, diagnose_row
from .signatures import SIGNATURES
from .variant import CORRECT, Variant

__all__ = ["BUGS", "CATALOGUE", "CORRECT", "SIGNATURES", "Bug", "References", "Variant", "bugged_references",
           "diagnose_checks", "diagnose_row", "diagnose_verdict", "first_departure"]


def diagnose_verdict(case, trace, verdict, atol: float, rtol: float) -> None:
    """Diagnose every failed row of `verdict` and say where the answer first departs (the
    torch-autograd tolerance `atol`, `rtol` judges intermediates and error signals)."""
    failed = [c for c in verdict.checks if not c.passed]
    if not failed:
        return
    references = References(case)
    diagnose_checks(case, trace, verdict.checks, references)
    judged = {c.quantity for c in failed if c.diagnosis != "missing"}
    if judged:
        verdict.first_departure = first_departure(case, trace, references.trace(), atol, rtol, judged)
