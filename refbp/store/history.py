"""Reading the verdict store back as pandas DataFrames: the runs (a page at a time), the rows of
one run (a page at a time), and the rows of a few named runs at once (compare). Every read is
bounded by its limit and served by an index: it costs the same in a store of 100 runs or 100,000."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from .database import Store

RUN_COLUMNS = (
    "id",
    "started",
    "command",
    "implementation",
    "implementation_version",
    "refbp_version",
    "cases",
    "failed_cases",
    "inconclusive_cases",
    "passed",
    "exit_code",
    "seconds",
)


def runs_frame(
    store: Store, implementation: str | None = None, limit: int | None = 50, before: str | None = None
) -> pd.DataFrame:
    """The newest runs first (optionally of implementations whose name contains `implementation`;
    with `before`, a run's id, the runs after it in that order: the next page). Read backwards
    along the index on (started, id) (migration 0005), never by sorting the table."""
    runs = store.runs
    query = sa.select(*(runs.c[name] for name in RUN_COLUMNS)).order_by(runs.c.started.desc(), runs.c.id.desc())
    if implementation:
        query = query.where(runs.c.implementation.contains(implementation, autoescape=True))
    if before is not None:
        started = sa.select(runs.c.started).where(runs.c.id == before).scalar_subquery()
        query = query.where(sa.or_(runs.c.started < started, sa.and_(runs.c.started == started, runs.c.id < before)))
    if limit is not None:
        query = query.limit(limit)
    with store.reading() as connection:
        return pd.DataFrame(connection.execute(query).mappings().all(), columns=list(RUN_COLUMNS))


class AmbiguousRun(KeyError):
    """A run id prefix that more than one run has: `candidates` are their ids (the newest first)."""

    def __init__(self, prefix: str, candidates: list[str]):
        super().__init__(prefix)
        self.prefix, self.candidates = prefix, candidates


def resolve_run(store: Store, prefix: str) -> str:
    """The id of the one run whose id is `prefix` or starts with it; a KeyError when none has it,
    AmbiguousRun (a KeyError) naming the candidates when several do."""
    runs = store.runs
    query = (
        sa.select(runs.c.id)
        .where(runs.c.id.startswith(prefix, autoescape=True))
        .order_by(runs.c.started.desc(), runs.c.id)
        .limit(11)
    )
    with store.reading() as connection:
        if prefix and connection.execute(sa.select(runs.c.id).where(runs.c.id == prefix)).first() is not None:
            return prefix
        found = [row.id for row in connection.execute(query)] if prefix else []
    if not found:
        raise KeyError(prefix)
    if len(found) > 1:
        raise AmbiguousRun(prefix, found)
    return found[0]


def run_checks(store: Store, run_id: str, limit: int | None = None, offset: int = 0) -> pd.DataFrame:
    """One row per check of the run (cases with no check, e.g. bad input, as one row with empty
    check columns), with the case's id, hash and verdict; `limit` rows from `offset` on (a page).
    An unknown id gives a KeyError."""
    with store.reading() as connection:
        if connection.execute(sa.select(store.runs.c.id).where(store.runs.c.id == run_id)).first() is None:
            raise KeyError(run_id)
        query = _rows_query(store).where(store.case_verdicts.c.run_id == run_id).offset(offset or None).limit(limit)
        rows = connection.execute(query).mappings().all()
    return pd.DataFrame(rows, columns=list(query.selected_columns.keys()))


def runs_checks(store: Store, run_ids: list[str]) -> pd.DataFrame:
    """The rows of several runs (run_checks' columns and `run_id`), in one query."""
    query = _rows_query(store, store.case_verdicts.c.run_id).where(store.case_verdicts.c.run_id.in_(list(run_ids)))
    with store.reading() as connection:
        rows = connection.execute(query).mappings().all()
    return pd.DataFrame(rows, columns=list(query.selected_columns.keys()))


# The check columns read back, in the order the answers have always listed them; any other column of
# the table (one a later migration added for a new field of the record, refbp.check.verdict.Check)
# follows them, so that a stored field comes back without being listed here.
CHECK_COLUMNS = (
    "quantity",
    "tensor",
    "reference",
    "method",
    "passed",
    "state",
    "inconclusive",
    "convention",
    "max_abs_err",
    "max_rel_err",
    "worst_index",
    "atol",
    "rtol",
    "checked",
    "note",
    "actual",
    "expected_value",
    "diagnosis",
    "diagnosis_note",
    "nondifferentiable",
    "step",
    "error_estimate",
)
CHECK_KEYS = ("id", "case_verdict_id")


def _rows_query(store: Store, *extra) -> sa.Select:
    verdicts, checks = store.case_verdicts, store.checks
    later = [column for column in checks.c if column.name not in CHECK_COLUMNS + CHECK_KEYS]
    return (
        sa.select(
            *extra,
            verdicts.c.case_id,
            verdicts.c.case_hash,
            verdicts.c.implementation,
            verdicts.c.passed.label("case_passed"),
            verdicts.c.state.label("case_state"),
            verdicts.c.inconclusive.label("case_inconclusive"),
            verdicts.c.error_kind,
            verdicts.c.errors,
            verdicts.c.network,
            verdicts.c.dtype,
            verdicts.c.seconds,
            verdicts.c.path,
            verdicts.c.title,
            verdicts.c.through_time,
            verdicts.c.first_departure,
            *(checks.c[name] for name in CHECK_COLUMNS),
            *later,
        )
        .select_from(verdicts.outerjoin(checks, checks.c.case_verdict_id == verdicts.c.id))
        .order_by(verdicts.c.id, checks.c.id)
    )


def run_row(store: Store, run_id: str) -> dict:
    """The run's own row (RUN_COLUMNS); an unknown id gives a KeyError."""
    with store.reading() as connection:
        row = (
            connection.execute(
                sa.select(*(store.runs.c[name] for name in RUN_COLUMNS)).where(store.runs.c.id == run_id)
            )
            .mappings()
            .first()
        )
    if row is None:
        raise KeyError(run_id)
    return dict(row)


# A run named by a prefix of its id needs this many characters: one of 8 hex digits is unique
# among a million runs but for a 1 in 4,000 chance, and is found by a range of the primary key.
MIN_PREFIX = 8
HEX = frozenset("0123456789abcdef")


def named_runs(store: Store, names: list[str]) -> dict[str, list[dict]]:
    """For each name (a run's id, or a prefix of at least MIN_PREFIX hex digits) the runs it names
    (`id`, `implementation`; at most two: two say it is ambiguous), in one query along the primary
    key. A name that cannot be an id names none, without a query."""
    runs, selects = store.runs, []
    for position, name in enumerate(names):
        if not (MIN_PREFIX <= len(name) <= 32 and set(name) <= HEX):
            continue
        upper = name[:-1] + chr(ord(name[-1]) + 1)
        where = runs.c.id == name if len(name) == 32 else sa.and_(runs.c.id >= name, runs.c.id < upper)
        selects.append(
            sa.select(sa.literal(position).label("position"), runs.c.id, runs.c.implementation)
            .where(where)
            .order_by(runs.c.id)
            .limit(2)
            .subquery()
            .select()
        )
    found: dict[str, list[dict]] = {name: [] for name in names}
    if selects:
        with store.reading() as connection:
            for row in connection.execute(sa.union_all(*selects)).mappings():
                found[names[row["position"]]].append({"id": row["id"], "implementation": row["implementation"]})
    return found
