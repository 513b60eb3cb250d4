"""`refbp fuzz --impl`: an example checked in a guarded worker (refbp.parallel.guarded), so that
an implementation that exits, hangs (past --timeout) or kills its process fails that example,
with the reason, instead of ending or hanging refbp."""

from __future__ import annotations

from dataclasses import replace

from ..parallel.guarded import run_guarded
from ..parallel.units import UnitFailed
from .unit import ExampleOutcome, Target, check_document, features


def check_guarded(index: int, document: dict, target: Target) -> ExampleOutcome:
    """check_document in a guarded worker (kept for the next example); a failed example when it gave no outcome."""
    inside = replace(target, timeout=None)  # checked as in one process, there
    result = run_guarded(check_inside, (index, document, inside), target.timeout)
    if isinstance(result, UnitFailed):
        return crashed(index, document, result.reason)
    return result


def check_inside(unit: tuple) -> ExampleOutcome:
    """What the worker runs (module-level: pickled by name)."""
    return check_document(*unit)


def crashed(index: int, document: dict, reason: str) -> ExampleOutcome:
    return ExampleOutcome(index, document, passed=False, failure=f"crash: {reason}", features=features(document))
