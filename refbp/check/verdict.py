"""Check rows and case verdicts (`refbp-verdict/1`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from enum import Enum

VERDICT_FORMAT = "refbp-verdict/1"
REFERENCES = ("torch-autograd", "finite-difference", "expected")
# What a case asks of an implementation (intermediates and input gradients are optional answers):
# a passing verdict that lacks some of these is PARTIAL (refbp.check.provided).
ASKED = ("outputs", "loss", "grads", "params_after", "loss_after")


class VerdictState(str, Enum):
    """What a row or a case came to. INCONCLUSIVE: some entry could be judged by no reference to
    the accuracy needed (never a pass, never a failure; exit 0 unless --strict)."""

    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class EntryRecord:
    """One entry of a row that is not plainly passing, for the report's entries.csv: a failed
    entry, an inconclusive one, one at a kink (not judged, or passed under a convention)."""

    case: str
    quantity: str
    tensor: str
    reference: str
    index: tuple[int, ...]
    state: str               # pass | fail | inconclusive | not judged (a VerdictState's value, or another word)
    method: str              # how its reference value was computed (e.g. "richardson"; "" for torch)
    actual: float
    reference_value: float
    note: str = ""           # a few words: the convention it matched, why it is inconclusive

    def to_row(self) -> dict:
        return {"case": self.case, "quantity": self.quantity, "tensor": self.tensor, "reference": self.reference,
                "index": "".join(f"[{int(i)}]" for i in self.index), "state": self.state, "method": self.method,
                "actual": self.actual, "reference_value": self.reference_value, "note": self.note}


ENTRY_COLUMNS = ("case", "quantity", "tensor", "reference", "index", "state", "method", "actual",
                 "reference_value", "note")


@dataclass
class Check:
    """One row: one quantity, one tensor, one reference."""

    quantity: str            # outputs, loss, intermediates, grads, input_grads, params_after, loss_after
    tensor: str              # the tensor's name ("loss" for the scalar losses)
    reference: str           # torch-autograd | finite-difference | expected
    max_abs_err: float
    max_rel_err: float
    worst_index: list
    atol: float
    rtol: float
    passed: bool
    note: str = ""
    # Extensions of the spec's row (optional fields, never renamed):
    checked: int = 0                 # entries judged
    nondifferentiable: int = 0       # entries left unjudged at a kink (finite differences)
    actual: float = math.nan         # the implementation's value at worst_index
    expected_value: float = math.nan  # the reference's value there
    method: str = ""                 # how the reference was computed (e.g. "central")
    step: float = math.nan           # finite differences: the largest step of the row
    error_estimate: float = math.nan  # finite differences: the largest estimated truncation + rounding error
    # A failed row only: which classic bug it looks like (a stable id of refbp.diagnosis, or
    # "unknown") and that in one line; a passing row never has one.
    diagnosis: str = ""
    diagnosis_note: str = ""
    # Where correct implementations may legitimately differ (docs/formats.md, "Conventions"):
    # the convention the row's entries at such points matched (e.g. "relu'(0) = 1",
    # "bce: torch backward", "subgradient"); "" where no entry sits at such a point.
    convention: str = ""
    # Entries that no reference could judge to the accuracy needed (counted, never passed).
    inconclusive: int = 0
    # float32, float16, bfloat16 (torch-autograd rows): torch's own largest |error| from float64 at
    # the case's precision in this tensor, beside max_abs_err (refbp.check.precision); NaN elsewhere.
    torch_error: float = math.nan
    # The entries that are not plainly passing (EntryRecord), for the report's entries.csv; never
    # in the verdict document (to_json) nor in the store.
    entries: tuple[EntryRecord, ...] = ()

    @property
    def state(self) -> VerdictState:
        if not self.passed:
            return VerdictState.FAIL
        return VerdictState.INCONCLUSIVE if self.inconclusive else VerdictState.PASS

    def to_json(self) -> dict:
        # The fields read one by one: dataclasses.asdict deep-copies every value recursively,
        # which made writing the verdicts the largest cost of a small request to the service.
        row = {name: getattr(self, name) for name in _CHECK_FIELDS}
        row["worst_index"] = [int(i) for i in self.worst_index]
        row["state"] = self.state.value
        # An inconclusive row is never reported as passed: "passed" is true only for the pass state.
        row["passed"] = self.state is VerdictState.PASS
        if not self.diagnosis:  # written only where there is one
            del row["diagnosis"], row["diagnosis_note"]
        for key in ("max_abs_err", "max_rel_err", "actual", "expected_value", "step", "error_estimate"):
            row[key] = _json_number(row[key])
        if math.isnan(self.torch_error):  # written only for a row judged against torch's own error
            del row["torch_error"]
        else:
            row["torch_error"] = _json_number(self.torch_error)
        return row


_CHECK_FIELDS = tuple(f.name for f in fields(Check) if f.name != "entries")


@dataclass
class CaseVerdict:
    case: str
    implementation: str
    passed: bool
    checks: list[Check] = field(default_factory=list)
    not_provided: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # Extensions: where the case came from, and what it is.
    path: str = ""
    title: str = ""
    network: str = ""
    dtype: str = ""
    seconds: float = 0.0
    # Exit-code class of the errors: "input" (bad case, exit 2) or "" (none).
    error_kind: str = ""
    # ||dE/dh_t|| for t = 0..T of an RNN case, from the checked implementation's own backward
    # (Trace.gradient_norms_through_time; None when its trace has no error signals).
    through_time: list[float] | None = None
    # The generated case's seeds, {generated field: seed} (Case.seeds).
    seeds: dict[str, int] = field(default_factory=dict)
    # The case's fingerprint (refbp.cases.fingerprint): stored verdicts of another hash are another case.
    case_hash: str = ""
    # Where a failed answer first departs from the reference (refbp.diagnosis.first_departure),
    # when the implementation gave its intermediates or error signals: "" otherwise.
    first_departure: str = ""

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
            item.partition(".")[0] in ASKED for item in self.not_provided)

    def to_json(self) -> dict:
        document = {
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
            "error_kind": self.error_kind,
            "case_hash": self.case_hash,
        }
        # Optional extensions, written only where they exist.
        if self.through_time is not None:
            document["through_time"] = [_json_number(x) for x in self.through_time]
        if self.seeds:
            document["seeds"] = dict(self.seeds)
        if self.first_departure:
            document["first_departure"] = self.first_departure
        if self.partial:
            document["partial"] = True
        return document


def _json_number(value):
    """JSON has no inf or NaN: a non-finite error (the row's note says why) is written as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
