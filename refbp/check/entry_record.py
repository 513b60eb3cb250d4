"""One entry of a check row that is not plainly passing (`EntryRecord`), and the columns of the
report's entries.csv that such entries make (`ENTRY_COLUMNS`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .states import VerdictState

__all__ = ["ENTRY_COLUMNS", "EntryRecord"]


@dataclass(frozen=True)
class EntryRecord:
    """One entry of a row that is not plainly passing, for the report's entries.csv: a failed
    entry, an inconclusive one, one at a kink (not judged, or passed under a convention)."""

    case: str
    quantity: str
    tensor: str
    reference: str
    index: tuple[int, ...]
    state: VerdictState  # FAIL, INCONCLUSIVE, NOT_JUDGED, WEAK (or PASS under a convention)
    method: str  # how its reference value was computed (e.g. "richardson"; "" for torch)
    actual: float
    reference_value: float
    note: str = ""  # a few words: the convention it matched, why it is inconclusive

    def __post_init__(self) -> None:
        object.__setattr__(self, "state", VerdictState(self.state))  # the word given, as its state

    def to_row(self) -> dict[str, Any]:
        return {
            "case": self.case,
            "quantity": self.quantity,
            "tensor": self.tensor,
            "reference": self.reference,
            "index": "".join(f"[{int(i)}]" for i in self.index),
            "state": self.state.value,
            "method": self.method,
            "actual": self.actual,
            "reference_value": self.reference_value,
            "note": self.note,
        }


ENTRY_COLUMNS = (
    "case",
    "quantity",
    "tensor",
    "reference",
    "index",
    "state",
    "method",
    "actual",
    "reference_value",
    "note",
)
