"""One record per verdict row: refbp.check.verdict.Check lists a row's fields once, and the JSON
verdict, the report's details frame, the verdict store's table and the service's verdict schema
are all made from that list (docs/architecture.md, "Adding a field to a verdict row").

Every field of the list is followed to each place it is meant to reach; a record with one field
more reaches them all with no other change (the store: once a migration adds its column, which
the check below names)."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field

import jsonschema
import pytest
import sqlalchemy as sa

from refbp.cases.schema import schema_document, schema_file
from refbp.check.record import (
    STATE_SCHEMA,
    Kind,
    frame_columns,
    json_row,
    row,
    row_fields,
    row_schema,
    store_columns,
    store_row,
    write_row_schema,
)
from refbp.check.suite import SuiteRun
from refbp.check.verdict import CaseVerdict, Check, EntryRecord, ErrorKind, VerdictState
from refbp.report.frames import DETAIL_COLUMNS, details_frame, entries_frame
from refbp.service.openapi import format_components
from refbp.store import RunRecord, open_store, record_run, run_checks

# The kinds of SQL column each kind of field is kept in.
SQL_TYPES = {
    Kind.TEXT: sa.String,
    Kind.COUNT: sa.Integer,
    Kind.MEASURE: sa.Float,
    Kind.TOLERANCE: sa.Float,
    Kind.INDEX: sa.JSON,
    Kind.PASSED: sa.Boolean,
    Kind.STATE: sa.String,
}


def full_row(record: type = Check, **more) -> Check:
    """A failed row with every field away from its default (a diagnosis, torch's own error, an
    entry), so that a field left out anywhere shows."""
    entry = EntryRecord(
        "c", "grads", "w", "finite-difference", (1, 0), VerdictState.NOT_JUDGED, "central", 0.5, 0.25, "at a kink"
    )
    return record(
        quantity="grads",
        tensor="layers.0.weight",
        reference="finite-difference",
        max_abs_err=0.25,
        max_rel_err=math.inf,
        worst_index=[1, 0],
        atol=1e-9,
        rtol=1e-7,
        passed=False,
        note="2 judged",
        checked=2,
        nondifferentiable=1,
        actual=0.5,
        expected_value=0.25,
        method="central",
        step=1e-6,
        error_estimate=1e-10,
        diagnosis="transposed",
        diagnosis_note="looks transposed",
        convention="relu'(0) = 1",
        inconclusive=3,
        torch_error=1e-8,
        entries=(entry,),
        **more,
    )


def verdict_of(*checks: Check) -> CaseVerdict:
    return CaseVerdict(
        case="c",
        implementation="probe",
        passed=False,
        checks=checks,
        network="mlp 2-2-2",
        dtype="float32",
        path="c.json",
    )


def names(record: type, destination: str) -> list[str]:
    return [name for name, spec in row_fields(record) if getattr(spec, destination)]


def missing_columns(table: sa.Table, record: type) -> list[str]:
    """The columns `record` keeps that the store's table lacks."""
    return [name for name in store_columns(record) if name not in table.c]


# -- every field of the list, in every place it goes --------------------------------------------


def test_every_field_of_the_record_is_described_once():
    described = row_fields(Check)
    assert [name for name, _ in described] == [f.name for f in dataclasses.fields(Check)]
    assert all(spec.doc and "\n" not in spec.doc for _, spec in described)
    # Each field goes somewhere: only the entries stay out of the verdict, the frame and the store
    # (entries.csv has them).
    nowhere = [name for name, spec in described if not (spec.json or spec.frame or spec.store)]
    assert nowhere == ["entries"]
    assert full_row().entries and not entries_frame(SuiteRun(verdicts=[verdict_of(full_row())])).empty


def test_the_json_verdict_writes_every_json_field_in_the_records_order():
    check = full_row()
    document = verdict_of(check).to_json()["checks"][0]
    assert list(document) == names(Check, "json")
    assert document["max_rel_err"] is None and document["worst_index"] == [1, 0]  # null for inf; ints
    assert document["passed"] is False and document["state"] == "fail"
    # Written only where they exist: a diagnosis, torch's own error.
    plain = dataclasses.replace(check, diagnosis="", diagnosis_note="", torch_error=math.nan).to_json()
    assert set(document) - set(plain) == {"diagnosis", "diagnosis_note", "torch_error"}
    json.dumps(document, allow_nan=False)


def test_the_details_frame_takes_its_check_columns_from_the_record():
    assert ["case", *frame_columns(Check), "network", "dtype", "path"] == DETAIL_COLUMNS
    assert sorted(frame_columns(Check)) == sorted(names(Check, "frame"))
    frame = details_frame(SuiteRun(verdicts=[verdict_of(full_row())]))
    [values] = frame.to_dict("records")
    check = full_row()
    for name in names(Check, "frame"):
        expected = {"worst_index": "[1, 0]", "passed": False, "state": "fail"}.get(name, getattr(check, name))
        assert values[name] == expected, name


def test_the_store_keeps_every_store_field(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'store.sqlite'}")
    assert missing_columns(store.checks, Check) == [], (
        "the store's checks table lacks these fields of the record: add a migration "
        "(refbp/store/migrations/versions/) that adds each column, nullable (a run stored before has none)"
    )
    for name, kind in store_columns(Check).items():
        assert isinstance(store.checks.c[name].type, SQL_TYPES[kind]), name
    check = full_row()
    run = SuiteRun(verdicts=[verdict_of(check)], started="2026-01-01T00:00:00+00:00", implementation="probe")
    [stored] = run_checks(store, record_run(store, run, RunRecord("verify"))).to_dict("records")
    kept = store_row(check)
    assert list(kept) == names(Check, "store")
    for name, value in kept.items():
        read = stored[name]
        assert (read is None or (isinstance(read, float) and math.isnan(read))) if value is None else read == value, (
            name
        )
    assert "torch_error" not in stored  # the record says the store does not keep it


def test_the_shipped_verdict_schema_is_the_one_the_record_makes():
    shipped = schema_document("verdict")
    # Key order too: the service's OpenAPI document lists the properties as the file does.
    assert json.dumps(shipped["$defs"]["check"]) == json.dumps(row_schema(Check)), (
        "cases/schemas/refbp-verdict-1.schema.json's row is not the record's: rewrite it with "
        "`python scripts/write_verdict_schema.py`"
    )
    assert shipped["$defs"]["state"] == STATE_SCHEMA
    assert shipped["properties"]["error_kind"]["enum"] == [kind.value for kind in ErrorKind]
    jsonschema.Draft202012Validator(shipped).validate(verdict_of(full_row()).to_json())


def test_the_services_verdict_schema_has_every_json_field():
    component = format_components()["refbp-verdict-1.check"]
    assert list(component["properties"]) == names(Check, "json")
    assert component["required"] == [name for name, spec in row_fields(Check) if spec.json and spec.required]


# -- one field more: the change a newcomer makes ----------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ReviewedCheck(Check):
    """Check with one field added the way docs/architecture.md says: one line, in one place."""

    reviewer: str = field(default="", metadata=row(Kind.TEXT, "who looked at the row"))


def test_a_field_added_to_the_record_reaches_json_frame_schema_and_store(tmp_path):
    check = full_row(ReviewedCheck, reviewer="ada")
    assert check.to_json()["reviewer"] == "ada" and list(check.to_json())[-1] == "reviewer"
    assert json_row(check) == {**json_row(full_row()), "reviewer": "ada"}
    assert frame_columns(ReviewedCheck) == [*frame_columns(Check), "reviewer"]
    schema = row_schema(ReviewedCheck)
    assert schema["properties"]["reviewer"] == {"type": "string", "description": "who looked at the row"}
    jsonschema.Draft202012Validator({**schema, "$defs": schema_document("verdict")["$defs"]}).validate(check.to_json())
    assert check.to_store() == {**full_row().to_store(), "reviewer": "ada"}

    # The store's table has a history (Alembic): the check above names the column a migration adds.
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    store = open_store(url)
    assert missing_columns(store.checks, ReviewedCheck) == ["reviewer"]
    with store.engine.begin() as connection:  # what that migration does: op.add_column, nullable
        connection.execute(sa.text("ALTER TABLE checks ADD COLUMN reviewer TEXT"))
    store = open_store(url)
    assert missing_columns(store.checks, ReviewedCheck) == []
    run = SuiteRun(verdicts=[verdict_of(check)], started="2026-01-01T00:00:00+00:00", implementation="probe")
    [stored] = run_checks(store, record_run(store, run, RunRecord("verify"))).to_dict("records")
    assert stored["reviewer"] == "ada"


def test_a_field_without_its_description_is_refused():
    @dataclass(frozen=True, kw_only=True)
    class Careless(Check):
        reviewer: str = ""

    with pytest.raises(TypeError, match=r"Careless\.reviewer: every field of a record needs metadata=row"):
        row_fields(Careless)


def test_the_schema_file_is_rewritten_from_the_record(tmp_path):
    shipped = schema_file("verdict").read_text()
    copy = tmp_path / "verdict.schema.json"
    copy.write_text(shipped)
    write_row_schema(Check, copy)
    assert copy.read_text() == shipped
    write_row_schema(ReviewedCheck, copy)  # a field more: a line more, the rest of the file as it was
    added = [line for line in copy.read_text().splitlines() if line not in shipped.splitlines()]
    assert len(copy.read_text().splitlines()) == len(shipped.splitlines()) + 1
    assert added[-1].strip() == '"reviewer": {"type": "string", "description": "who looked at the row"}'
    assert json.loads(copy.read_text())["$defs"]["check"] == row_schema(ReviewedCheck)


# -- built once, never changed ------------------------------------------------------------------


def test_rows_and_verdicts_are_frozen_and_keyword_only():
    check = full_row()
    with pytest.raises(dataclasses.FrozenInstanceError):
        check.passed = True
    verdict = verdict_of(check)
    with pytest.raises(dataclasses.FrozenInstanceError):
        verdict.error_kind = ErrorKind.CRASH
    assert isinstance(verdict.checks, tuple) and isinstance(verdict.errors, tuple)
    with pytest.raises(TypeError):
        Check("grads", "w", "torch-autograd", 0.0, 0.0, [], 0.0, 0.0, True)
    # A row's state is made from what it holds, and made again by replace().
    assert check.state is VerdictState.FAIL
    assert dataclasses.replace(check, passed=True).state is VerdictState.INCONCLUSIVE
    assert dataclasses.replace(check, passed=True, inconclusive=0).state is VerdictState.PASS


def test_states_and_error_kinds_are_enums_written_as_their_words():
    verdict = CaseVerdict(case="c", implementation="i", passed=False, errors=["c.json: bad"], error_kind="input")
    assert verdict.error_kind is ErrorKind.INPUT
    assert verdict.to_json()["error_kind"] == "input" and f"{verdict.error_kind}" == str(verdict.error_kind) == "input"
    assert not ErrorKind.NONE and ErrorKind.CRASH == "crash"
    entry = full_row().entries[0]
    assert entry.state is VerdictState.NOT_JUDGED and entry.to_row()["state"] == "not judged"
