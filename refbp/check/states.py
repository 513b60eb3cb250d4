"""The words a verdict is made of, as enums: the states of rows, cases and entries, and why a case
could not be checked. Each is a `str` Enum whose value is the word the formats write
(docs/formats.md section 4), so a document holds the same text as when these were bare strings."""

from __future__ import annotations

from enum import Enum


class Word(str, Enum):
    """A str Enum written as its value by str(), f-strings and %-formatting alike (enum.StrEnum
    does so from Python 3.11 on; refbp supports 3.10): an ElementTree attribute or a CSV cell
    holds "crash", never "ErrorKind.CRASH"."""

    def __str__(self) -> str:
        return str(self.value)


class VerdictState(Word):
    """What a row, a case or an entry came to. A row and a case are PASS, FAIL or INCONCLUSIVE
    (ROW_STATES): INCONCLUSIVE when some entry could be judged by no reference to the accuracy
    needed (never a pass, never a failure; exit 0 unless --strict). An entry (the report's
    entries.csv) may also be NOT_JUDGED (no reference judged it here: a kink, a convention point,
    left to the torch rows) or WEAK (judged, but its finite difference's own error estimate is
    above the tolerance)."""

    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"
    NOT_JUDGED = "not judged"
    WEAK = "weak"


# The states a row or a case can be in (the verdict schema's $defs/state).
ROW_STATES = (VerdictState.PASS, VerdictState.FAIL, VerdictState.INCONCLUSIVE)


class ErrorKind(Word):
    """Why a verdict has errors, which decides the exit code: bad input (exit 2), the
    implementation crashed, it declined the case (not supported); NONE when it has none."""

    NONE = ""
    INPUT = "input"
    CRASH = "crash"
    UNSUPPORTED = "unsupported"
