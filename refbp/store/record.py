"""Writing one run into the verdict store: the run, each case's verdict, each check row, in
one transaction (a run lands whole or not at all)."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

import sqlalchemy as sa

from refbp import __version__

from .database import Store, StoreError, open_store
from .idempotency import KeyTaken, answered
from .redact import redacted, redacted_values

COMMANDS = ("run", "verify", "check")


@dataclass
class RunRecord:
    """What the store keeps about a run beyond its verdicts."""

    command: str  # run | verify | check
    implementation_version: str = ""  # the implementation's own version, when it says
    environment: dict = field(default_factory=dict)  # stored with every credential in it redacted
    idempotency_key: str = ""  # kept with `answer`: a retry under the key gets that answer
    request_digest: str = ""  # sha256 of the request the key came with
    answer: str = ""  # the JSON answered to that request


# The widths of the tables' name columns (migration 0001): a longer name is cut, never refused
# by PostgreSQL half-way through a run.
NAME_LENGTH = 200


def record_run(store: Store, run, record: RunRecord) -> str:
    """Write `run` (a refbp.check.SuiteRun) and return its id in the store. With an idempotency key
    already taken, nothing is written and KeyTaken carries the first answer."""
    if record.command not in COMMANDS:
        raise ValueError(f"unknown command {record.command!r} (known: {', '.join(COMMANDS)})")
    try:
        return _write(store, run, record)
    except sa.exc.IntegrityError:
        first = answered(store, record.idempotency_key) if record.idempotency_key else None
        if first is None:
            raise
        raise KeyTaken(first) from None  # a concurrent request with the same key committed first


def _write(store: Store, run, record: RunRecord) -> str:
    run_id = uuid.uuid4().hex
    inconclusive = sum(verdict.state.value == "inconclusive" for verdict in run.verdicts)
    # Plain insert() with the values as parameters: SQLAlchemy compiles each statement once and
    # reuses it (insert().values(...) would build and compile a new statement every time).
    with store.writing() as connection:
        connection.execute(
            store.runs.insert(),
            dict(
                id=run_id,
                command=record.command,
                started=run.started,
                seconds=float(run.seconds),
                implementation=run.implementation[:NAME_LENGTH],
                implementation_version=record.implementation_version[:100],
                # An inconclusive case never counts as passed, not even where the run exits 0.
                refbp_version=__version__,
                passed=run.exit_code() == 0 and not inconclusive,
                exit_code=run.exit_code(),
                cases=len(run.verdicts),
                failed_cases=len(run.failed),
                inconclusive_cases=inconclusive,
                environment=redacted_values(record.environment),
            ),
        )
        for verdict in run.verdicts:
            inserted = connection.execute(
                store.case_verdicts.insert(),
                dict(
                    run_id=run_id,
                    case_id=verdict.case[:NAME_LENGTH],
                    case_hash=getattr(verdict, "case_hash", ""),
                    implementation=verdict.implementation[:NAME_LENGTH],
                    passed=verdict.state.value == "pass",
                    state=verdict.state.value,
                    inconclusive=int(verdict.inconclusive),
                    error_kind=str(verdict.error_kind),
                    errors=list(verdict.errors),
                    not_provided=list(verdict.not_provided),
                    path=verdict.path,
                    network=verdict.network,
                    dtype=verdict.dtype,
                    seconds=float(verdict.seconds),
                    title=verdict.title,
                    first_departure=verdict.first_departure,
                    through_time=None if verdict.through_time is None else [_finite(x) for x in verdict.through_time],
                ),
            )
            if verdict.checks:
                key = inserted.inserted_primary_key
                assert key is not None  # an INSERT of one row always has its key
                verdict_id = key[0]
                connection.execute(store.checks.insert(), [_check_row(verdict_id, c) for c in verdict.checks])
        if record.idempotency_key:  # a second request under the key fails here, and its run rolls back
            connection.execute(
                store.idempotency.insert(),
                dict(
                    key=record.idempotency_key,
                    run_id=run_id,
                    request_digest=record.request_digest,
                    answer=record.answer,
                    created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                ),
            )
    return run_id


def _check_row(verdict_id: int, check) -> dict:
    # The row's columns come from the record itself (refbp.check.record: store_row), so that a field
    # added there reaches this table without a list of columns here.
    return {"case_verdict_id": verdict_id, **check.to_store()}


def _finite(value) -> float | None:
    """SQL has no portable inf or NaN: a non-finite error is NULL (its row's note says why)."""
    value = float(value)
    return value if math.isfinite(value) else None


def keep_run(
    run, command: str, environment: dict | None = None, url: str | None = None, implementation_version: str = ""
) -> tuple[str, str]:
    """Open the store (REFBP_DATABASE_URL, else the default SQLite file) and record `run`:
    (the run's id, the store's URL). A StoreError says, in one line, why it could not be kept."""
    store = open_store(url)
    record = RunRecord(command, implementation_version=implementation_version, environment=environment or {})
    try:
        return record_run(store, run, record), store.url
    except Exception as exc:  # the transaction rolled back: nothing of this run is in the store
        raise StoreError(
            redacted(
                f"verdict store {store.url}: the run was not recorded: {type(exc).__name__}: "
                f"{(str(exc).strip().splitlines() or [''])[0]}"
            )
        ) from exc
