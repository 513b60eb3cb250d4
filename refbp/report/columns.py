"""The columns and states of a run's frames (refbp.report.frames): what a details row and a case
row hold, and a row's or a case's state as the pages name it.
"""

from __future__ import annotations

import pandas as pd

from refbp.check.record import frame_columns
from refbp.check.verdict import Check, ErrorKind, VerdictState

# The case, a check row's columns as its record lists them (refbp.check.verdict.Check: "passed" is
# true only in the state pass, "state" pass, fail or inconclusive, ...), then where the case is from.
DETAIL_COLUMNS = ["case", *frame_columns(Check), "network", "dtype", "path"]
CASE_COLUMNS = [
    "case",
    "passed",
    "state",
    "inconclusive",
    "error_kind",
    "network",
    "dtype",
    "seconds",
    "errors",
    "path",
    "title",
    "first_departure",
]
REFERENCE_COLUMNS = {
    "torch-autograd": "worst_rel_torch",
    "finite-difference": "worst_rel_fd",
    "expected": "worst_rel_expected",
}
NOT_PROVIDED = "not provided"  # a details row of an asked quantity the implementation did not give
STATUS = {
    ErrorKind.INPUT.value: "bad input",
    ErrorKind.UNSUPPORTED.value: "not supported",
    ErrorKind.CRASH.value: "crashed",
}
PASS, FAIL, INCONCLUSIVE = (state.value for state in (VerdictState.PASS, VerdictState.FAIL, VerdictState.INCONCLUSIVE))


def status_of(passed: bool, error_kind: str, state: str | None = None) -> str:
    """bad input / not supported / crashed, else inconclusive, pass or FAIL."""
    if state == INCONCLUSIVE and not error_kind:
        return INCONCLUSIVE
    return STATUS.get(error_kind or "", "pass" if passed else "FAIL")


def row_states(details: pd.DataFrame) -> pd.Series:
    """Each row's state; rows without one (a run stored before the store kept it) from `passed`."""
    passed = details["passed"].fillna(False).astype(bool)
    derived = passed.map({True: PASS, False: FAIL})
    if "state" not in details:
        return derived
    return details["state"].where(details["state"].isin([PASS, FAIL, INCONCLUSIVE, NOT_PROVIDED]), derived)
