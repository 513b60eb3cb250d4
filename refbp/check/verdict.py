"""Check rows and case verdicts (`refbp-verdict/1`).

`Check`'s fields are THE list of a verdict row's fields: each carries its kind, a one-line
description and where it goes (refbp.check.record), and the JSON verdict, the report's details
frame, the verdict store's checks table and the verdict schema's row are all made from it.
Verdicts and rows are frozen: what changes one builds a new one (`dataclasses.replace`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .entry_record import ENTRY_COLUMNS, EntryRecord
from .record import Kind, json_number, json_row, row, store_row
from .states import ErrorKind, VerdictState

__all__ = [
    "ASKED",
    "ENTRY_COLUMNS",
    "REFERENCES",
    "VERDICT_FORMAT",
    "CaseVerdict",
    "Check",
    "EntryRecord",
    "ErrorKind",
    "VerdictState",
]

VERDICT_FORMAT = "refbp-verdict/1"
REFERENCES = ("torch-autograd", "finite-difference", "expected")
# What a case asks of an implementation (intermediates and input gradients are optional answers):
# a passing verdict that lacks some of these is PARTIAL (refbp.check.provided).
ASKED = ("outputs", "loss", "grads", "params_after", "loss_after")


def _diagnosed(check: Check) -> bool:
    return bool(check.diagnosis)


def _against_torch_error(check: Check) -> bool:
    return not math.isnan(check.torch_error)


@dataclass(frozen=True, kw_only=True)
class Check:
    """One row: one quantity, one tensor, one reference. The order of the fields is the order of
    a JSON row's keys; the first ten are the format's own row, the rest optional extensions
    (never renamed). To add a field, add it here: docs/architecture.md, "Adding a field"."""

    quantity: str = field(
        metadata=row(
            Kind.TEXT,
            "outputs, loss, intermediates, grads, input_grads, params_after or loss_after",
            required=True,
            described=False,
            schema={"enum": ["outputs", "loss", "intermediates", "grads", "input_grads", "params_after", "loss_after"]},
        )
    )
    tensor: str = field(
        metadata=row(Kind.TEXT, 'the tensor\'s name ("loss" for the scalar losses)', required=True, described=False)
    )
    reference: str = field(
        metadata=row(
            Kind.TEXT,
            "what the row is judged against (own-forward-fd: refbp check's own-loss differences)",
            required=True,
            described=False,
            schema={"enum": ["torch-autograd", "finite-difference", "expected", "own-forward-fd"]},
        )
    )
    max_abs_err: float = field(
        metadata=row(
            Kind.MEASURE, "the largest |actual - reference| of the judged entries", required=True, described=False
        )
    )
    max_rel_err: float = field(
        metadata=row(
            Kind.MEASURE,
            "the largest |actual - reference| / max(|actual|, |reference|, tiny)",
            required=True,
            described=False,
        )
    )
    worst_index: Sequence[int] = field(
        metadata=row(
            Kind.INDEX,
            "the entry furthest out of tolerance relative to atol + rtol |reference|",
            required=True,
            described=False,
        )
    )
    atol: float = field(
        metadata=row(Kind.TOLERANCE, "the absolute tolerance the row was judged with", required=True, described=False)
    )
    rtol: float = field(
        metadata=row(Kind.TOLERANCE, "the relative tolerance the row was judged with", required=True, described=False)
    )
    passed: bool = field(
        metadata=row(
            Kind.PASSED, "no entry failed (written true only in the state pass)", required=True, described=False
        )
    )
    note: str = field(
        default="",
        metadata=row(
            Kind.TEXT,
            "a few words: counts per state and method, why entries were not judged",
            required=True,
            described=False,
        ),
    )
    checked: int = field(default=0, metadata=row(Kind.COUNT, "entries judged", described=False))
    nondifferentiable: int = field(
        default=0, metadata=row(Kind.COUNT, "entries left unjudged at a kink (finite differences)", described=False)
    )
    actual: float = field(
        default=math.nan, metadata=row(Kind.MEASURE, "the implementation's value at worst_index", described=False)
    )
    expected_value: float = field(
        default=math.nan, metadata=row(Kind.MEASURE, "the reference's value at worst_index", described=False)
    )
    method: str = field(
        default="",
        metadata=row(
            Kind.TEXT,
            'how the reference was computed (e.g. central; "" for torch and the published values)',
            described=False,
            schema={"enum": ["", "central", "richardson", "complex", "directional", "sampled"]},
        ),
    )
    step: float = field(
        default=math.nan, metadata=row(Kind.MEASURE, "finite differences: the largest step of the row", described=False)
    )
    error_estimate: float = field(
        default=math.nan,
        metadata=row(
            Kind.MEASURE, "finite differences: the largest estimated truncation + rounding error", described=False
        ),
    )
    # A failed row only: a stable id of refbp.diagnosis, or "unknown"; a passing row never has one.
    diagnosis: str = field(
        default="",
        metadata=row(
            Kind.TEXT,
            "a failed row only: the classic bug it looks like (docs/formats.md section 4), or unknown",
            written_if=_diagnosed,
            schema={"type": "string", "pattern": "^[a-z-]+(:[A-Za-z0-9./*+-]+)?$"},
        ),
    )
    diagnosis_note: str = field(default="", metadata=row(Kind.TEXT, "the diagnosis in one line", written_if=_diagnosed))
    convention: str = field(
        default="",
        metadata=row(
            Kind.TEXT,
            "the convention the row's entries at non-smooth points matched (e.g. relu'(0) = 1, bce: torch "
            "backward, subgradient; docs/formats.md, Conventions); empty where no entry sits at such a point",
            beside="inconclusive",
        ),
    )
    inconclusive: int = field(
        default=0,
        metadata=row(
            Kind.COUNT,
            "entries that no reference could judge to the accuracy needed (never passed)",
            beside="nondifferentiable",
        ),
    )
    # Not kept by the store: its checks table has no such column (a migration would add one).
    torch_error: float = field(
        default=math.nan,
        metadata=row(
            Kind.MEASURE,
            "a torch-autograd row of a float32, float16 or bfloat16 case: torch's own largest |error| "
            "from float64 in this tensor at that precision, beside max_abs_err (docs/precision.md)",
            written_if=_against_torch_error,
            store=False,
            beside="max_abs_err",
        ),
    )
    state: VerdictState = field(
        init=False,
        metadata=row(
            Kind.STATE,
            "fail when an entry failed, else inconclusive when an entry is, else pass; passed is true only for pass",
            beside="passed",
        ),
    )
    entries: tuple[EntryRecord, ...] = field(
        default=(),
        metadata=row(
            Kind.ENTRIES,
            "the entries that are not plainly passing, for the report's entries.csv",
            json=False,
            frame=False,
            store=False,
        ),
    )

    def __post_init__(self) -> None:
        # Made from `passed` and `inconclusive` (replace() makes it again): never set by hand.
        state = (
            VerdictState.FAIL
            if not self.passed
            else VerdictState.INCONCLUSIVE
            if self.inconclusive
            else VerdictState.PASS
        )
        object.__setattr__(self, "state", state)

    def to_json(self) -> dict[str, Any]:
        return json_row(self)

    def to_store(self) -> dict[str, Any]:
        """The row as the verdict store's checks table keeps it (refbp.store.record)."""
        return store_row(self)


@dataclass(frozen=True, kw_only=True)
class CaseVerdict:
    case: str
    implementation: str
    passed: bool
    checks: Sequence[Check] = ()  # kept as a tuple
    not_provided: Sequence[str] = ()  # kept as a tuple
    errors: Sequence[str] = ()  # kept as a tuple
    # Extensions: where the case came from, and what it is.
    path: str = ""
    title: str = ""
    network: str = ""
    dtype: str = ""
    seconds: float = 0.0
    # Exit-code class of the errors: INPUT (bad case, exit 2), CRASH, UNSUPPORTED or NONE.
    error_kind: ErrorKind = ErrorKind.NONE
    # ||dE/dh_t|| for t = 0..T of an RNN case, from the checked implementation's own backward
    # (Trace.gradient_norms_through_time; None when its trace has no error signals).
    through_time: Sequence[float] | None = None
    # The generated case's seeds, {generated field: seed} (Case.seeds).
    seeds: Mapping[str, int] = field(default_factory=dict)
    # The case's fingerprint (refbp.cases.fingerprint): stored verdicts of another hash are another case.
    case_hash: str = ""
    # Where a failed answer first departs from the reference (refbp.diagnosis.first_departure),
    # when the implementation gave its intermediates or error signals: "" otherwise.
    first_departure: str = ""

    def __post_init__(self) -> None:
        # Lists given are kept as tuples, a word as its ErrorKind: nothing changes a built verdict.
        for name in ("checks", "not_provided", "errors"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        object.__setattr__(self, "error_kind", ErrorKind(self.error_kind))

    def failed_checks(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    def inconclusive_checks(self) -> list[Check]:
        return [c for c in self.checks if c.state is VerdictState.INCONCLUSIVE]

    @property
    def inconclusive(self) -> int:
        """Entries of the case that no reference could judge to the accuracy needed."""
        return sum(int(c.inconclusive) for c in self.checks)

    @property
    def state(self) -> VerdictState:
        """FAIL when a row failed or the case has errors; else INCONCLUSIVE when a row is; else
        PASS, when the case passed (a case with no rows never passes)."""
        if self.errors or any(not c.passed for c in self.checks):
            return VerdictState.FAIL
        if any(c.inconclusive for c in self.checks):
            return VerdictState.INCONCLUSIVE
        return VerdictState.PASS if self.passed and self.checks else VerdictState.FAIL

    @property
    def partial(self) -> bool:
        """Judged on part of what the case asks: no row failed, but an asked quantity or tensor is
        in `not_provided` (shown as PARTIAL; `--require all` fails it)."""
        return self.state is not VerdictState.FAIL and any(
            item.partition(".")[0] in ASKED for item in self.not_provided
        )

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "format": VERDICT_FORMAT,
            "case": self.case,
            "implementation": self.implementation,
            # Never true for an inconclusive verdict: "state" says which of the three it is.
            "passed": self.state is VerdictState.PASS,
            "state": self.state.value,
            "inconclusive": self.inconclusive,
            "checks": [c.to_json() for c in self.checks],
            "not_provided": list(self.not_provided),
            "errors": list(self.errors),
            "path": self.path,
            "title": self.title,
            "network": self.network,
            "dtype": self.dtype,
            "seconds": round(self.seconds, 6),
            "error_kind": self.error_kind.value,
            "case_hash": self.case_hash,
        }
        # Optional extensions, written only where they exist.
        if self.through_time is not None:
            document["through_time"] = [json_number(x) for x in self.through_time]
        if self.seeds:
            document["seeds"] = dict(self.seeds)
        if self.first_departure:
            document["first_departure"] = self.first_departure
        if self.partial:
            document["partial"] = True
        return document
