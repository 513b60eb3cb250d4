"""A verdict row's fields, each described once, and everything made from that one list.

A record type (refbp.check.verdict.Check) is a frozen dataclass whose every field carries a
`RowField` in its metadata (`field(metadata=row(...))`): its kind, a one-line description and
where it goes. From those fields, in their order, come the JSON row of a verdict (`json_row`),
the report frame's columns and values (`frame_columns`, `frame_row`), the verdict store's
columns and values (`store_columns`, `store_row`) and the JSON Schema of a row
(`row_schema`, which cases/schemas/refbp-verdict-1.schema.json holds and a test compares).
Adding a field to the record is the whole change; nothing else lists the fields.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from .states import ROW_STATES, VerdictState

ROW = "refbp.row"  # the metadata key of a field's RowField


class Kind(Enum):
    """What a field holds, which decides how each destination writes it."""

    TEXT = "text"  # a string, written as it is
    COUNT = "count"  # a number of entries (an int)
    MEASURE = "measure"  # a float that may be infinite or NaN: JSON null, SQL NULL
    TOLERANCE = "tolerance"  # a finite, non-negative float
    INDEX = "index"  # an entry's index (a list of ints)
    PASSED = "passed"  # a bool, reported true only in the state pass (never for an inconclusive row)
    STATE = "state"  # a VerdictState, written as its value
    ENTRIES = "entries"  # the row's EntryRecords, for the report's entries.csv only


@dataclass(frozen=True, kw_only=True)
class RowField:
    """One field of a record: its kind, what it is, and where it goes."""

    kind: Kind
    doc: str  # one line: what the field holds
    required: bool = False  # in every JSON row (the format's own row); the rest are optional
    schema: Mapping[str, Any] | None = None  # its JSON Schema, where the kind's is not precise enough
    described: bool = True  # the schema carries `doc` as the field's description
    json: bool = True
    frame: bool = True
    store: bool = True
    # JSON: written only where this holds of the row (None: always).
    written_if: Callable[[Any], bool] | None = None
    beside: str = ""  # frame: the column it follows ("": after the others)


def row(kind: Kind, doc: str, **options: Any) -> dict[str, RowField]:
    """The metadata of a record's field: `field(default=..., metadata=row(Kind.TEXT, "..."))`."""
    return {ROW: RowField(kind=kind, doc=doc, **options)}


def row_fields(record: type) -> tuple[tuple[str, RowField], ...]:
    """(name, RowField) of every field of `record`, in order; a field without one is an error, so
    that no field is left out of the formats by accident."""
    described = []
    for f in dataclasses.fields(record):
        spec = f.metadata.get(ROW)
        if not isinstance(spec, RowField):
            raise TypeError(f"{record.__name__}.{f.name}: every field of a record needs metadata=row(...)")
        described.append((f.name, spec))
    return tuple(described)


def json_number(value: Any) -> Any:
    """JSON has no inf or NaN: a non-finite error (the row's note says why) is written as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def finite(value: Any) -> float | None:
    """SQL has no portable inf or NaN: a non-finite error is NULL (its row's note says why)."""
    number = float(value)
    return number if math.isfinite(number) else None


Convert = Callable[[Any, Any], Any]  # (the row, the field's value) -> what a destination writes


def _passed(row: Any, _value: Any) -> bool:
    return row.state is VerdictState.PASS


def _index(_row: Any, value: Any) -> list[int]:
    return [int(i) for i in value]


_JSON: dict[Kind, Convert] = {
    Kind.MEASURE: lambda _row, v: json_number(v),
    Kind.INDEX: _index,
    Kind.PASSED: _passed,
    Kind.STATE: lambda _row, v: v.value,
}
_FRAME: dict[Kind, Convert] = {
    Kind.INDEX: lambda _row, v: str(v),
    Kind.PASSED: _passed,
    Kind.STATE: lambda _row, v: v.value,
}
_STORE: dict[Kind, Convert] = {
    Kind.COUNT: lambda _row, v: int(v),
    Kind.MEASURE: lambda _row, v: finite(v),
    Kind.TOLERANCE: lambda _row, v: float(v),
    Kind.INDEX: _index,
    Kind.PASSED: _passed,
    Kind.STATE: lambda _row, v: v.value,
}
# Each kind's JSON Schema (a field's own `schema` replaces it).
_SCHEMA: dict[Kind, dict[str, Any]] = {
    Kind.TEXT: {"type": "string"},
    Kind.COUNT: {"type": "integer", "minimum": 0},
    Kind.MEASURE: {"$ref": "#/$defs/measure"},
    Kind.TOLERANCE: {"type": "number", "minimum": 0},
    Kind.INDEX: {"type": "array", "items": {"type": "integer", "minimum": 0}},
    Kind.PASSED: {"type": "boolean"},
    Kind.STATE: {"$ref": "#/$defs/state"},
}


@dataclass(frozen=True)
class _Plan:
    """A destination's fields: their names, those written converted, those written only where a
    condition holds."""

    names: tuple[str, ...]
    converted: tuple[tuple[str, Convert], ...]
    conditional: tuple[tuple[str, Callable[[Any], bool]], ...] = ()

    def write(self, row: Any) -> dict[str, Any]:
        # The fields read one by one: dataclasses.asdict deep-copies every value recursively,
        # which made writing the verdicts the largest cost of a small request to the service.
        written = {name: getattr(row, name) for name in self.names}
        for name, convert in self.converted:
            written[name] = convert(row, written[name])
        for name, keep in self.conditional:
            if not keep(row):
                del written[name]
        return written


_PLANS: dict[tuple[type, str], _Plan] = {}  # each record's plan per destination, made once


def _plan(record: type, destination: str) -> _Plan:
    plan = _PLANS.get((record, destination))
    if plan is None:
        plan = _PLANS[record, destination] = _make_plan(record, destination)
    return plan


def _make_plan(record: type, destination: str) -> _Plan:
    chosen = [(name, spec) for name, spec in row_fields(record) if getattr(spec, destination)]
    if destination == "frame":
        chosen = _frame_order(chosen)
    converters = {"json": _JSON, "frame": _FRAME, "store": _STORE}[destination]
    return _Plan(
        names=tuple(name for name, _ in chosen),
        converted=tuple((name, converters[spec.kind]) for name, spec in chosen if spec.kind in converters),
        conditional=tuple(
            (name, spec.written_if) for name, spec in chosen if destination == "json" and spec.written_if is not None
        ),
    )


def _frame_order(chosen: list[tuple[str, RowField]]) -> list[tuple[str, RowField]]:
    """The record's order, each field with `beside` moved right after the column it names."""
    ordered = [item for item in chosen if not item[1].beside]
    pending = [item for item in chosen if item[1].beside]
    while pending:
        placed = [item for item in pending if any(name == item[1].beside for name, _ in ordered)]
        if not placed:
            raise TypeError(f"frame: {pending[0][0]} is placed beside {pending[0][1].beside!r}, which is no column")
        for item in placed:
            at = next(i for i, (name, _) in enumerate(ordered) if name == item[1].beside)
            ordered.insert(at + 1, item)
            pending.remove(item)
    return ordered


def json_row(row: Any) -> dict[str, Any]:
    """The row as a verdict document writes it (refbp-verdict/1's checks)."""
    return _plan(type(row), "json").write(row)


def frame_columns(record: type) -> list[str]:
    """The record's columns in the report's details frame, in their order."""
    return list(_plan(record, "frame").names)


def frame_row(row: Any) -> dict[str, Any]:
    """The row's values in the report's details frame."""
    return _plan(type(row), "frame").write(row)


def store_columns(record: type) -> dict[str, Kind]:
    """{column: kind} of the record's fields that the verdict store keeps."""
    return {name: spec.kind for name, spec in row_fields(record) if spec.store}


def store_row(row: Any) -> dict[str, Any]:
    """The row's values as the verdict store's checks table keeps them."""
    return _plan(type(row), "store").write(row)


def row_schema(record: type) -> dict[str, Any]:
    """The JSON Schema of one JSON row of the record (the verdict schema's $defs/check)."""
    properties: dict[str, Any] = {}
    for name, spec in row_fields(record):
        if spec.json:
            schema = dict(spec.schema if spec.schema is not None else _SCHEMA[spec.kind])
            if spec.described:
                schema["description"] = spec.doc
            properties[name] = schema
    required = [name for name, spec in row_fields(record) if spec.json and spec.required]
    return {"type": "object", "required": required, "additionalProperties": False, "properties": properties}


STATE_SCHEMA = {"enum": [state.value for state in ROW_STATES]}


def write_row_schema(record: type, path: Path) -> None:
    """Rewrite the row of the verdict schema file at `path` ($defs/check, and $defs/state) from
    `record`, the rest of the file as it is: each field's schema on a line of its own, so that a
    field added to the record is a line added to the file (scripts/write_verdict_schema.py)."""
    text = path.read_text()
    start = text.index("{", text.index('"check":'))
    indent = start - text.rindex("\n", 0, start) - len('"check": ') - 1
    text = text[:start] + _row_block(row_schema(record), indent) + text[_matching(text, start) + 1 :]
    state = text.index('"state": {"enum":')
    text = text[:state] + '"state": ' + json.dumps(STATE_SCHEMA) + text[_matching(text, text.index("{", state)) + 1 :]
    json.loads(text)  # still one JSON document
    path.write_text(text)


def _row_block(schema: dict[str, Any], indent: int) -> str:
    pad = " " * (indent + 1)
    head = [
        f"{pad}{json.dumps(key)}: {json.dumps(schema[key])}" for key in ("type", "required", "additionalProperties")
    ]
    fields = [
        f"{pad} {json.dumps(name)}: {json.dumps(spec, ensure_ascii=False)}"
        for name, spec in schema["properties"].items()
    ]
    return (
        "{\n"
        + ",\n".join([*head, f'{pad}"properties": {{\n' + ",\n".join(fields) + f"\n{pad}}}"])
        + "\n"
        + " " * indent
        + "}"
    )


def _matching(text: str, start: int) -> int:
    """The index of the brace that closes the one at `start` (braces within strings skipped)."""
    depth, inside, escaped = 0, False, False
    for i in range(start, len(text)):
        char = text[i]
        if inside:
            inside, escaped = (escaped or char != '"'), (not escaped and char == "\\")
        elif char == '"':
            inside = True
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
            if depth == 0:
                return i
    raise ValueError("unbalanced JSON")
