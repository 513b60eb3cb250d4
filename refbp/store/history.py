"""Reading the verdict store back as pandas DataFrames: the runs, and the rows of one run."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from .database import Store

RUN_COLUMNS = ("id", "started", "command", "implementation", "implementation_version", "refbp_version",
               "cases", "failed_cases", "inconclusive_cases", "passed", "exit_code", "seconds")


def runs_frame(store: Store, implementation: str | None = None, limit: int | None = 50) -> pd.DataFrame:
    """The newest runs first (optionally of implementations whose name contains `implementation`)."""
    runs = store.runs
    query = sa.select(*(runs.c[name] for name in RUN_COLUMNS)).order_by(runs.c.started.desc(), runs.c.id)
    if implementation:
        query = query.where(runs.c.implementation.contains(implementation, autoescape=True))
    if limit is not None:
        query = query.limit(limit)
    with store.engine.connect() as connection:
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
    query = (sa.select(runs.c.id).where(runs.c.id.startswith(prefix, autoescape=True))
             .order_by(runs.c.started.desc(), runs.c.id).limit(11))
    with store.engine.connect() as connection:
        if prefix and connection.execute(sa.select(runs.c.id).where(runs.c.id == prefix)).first() is not None:
            return prefix
        found = [row.id for row in connection.execute(query)] if prefix else []
    if not found:
        raise KeyError(prefix)
    if len(found) > 1:
        raise AmbiguousRun(prefix, found)
    return found[0]


def run_checks(store: Store, run_id: str) -> pd.DataFrame:
    """One row per check of the run (cases with no check, e.g. bad input, as one row with empty
    check columns), with the case's id, hash and verdict. An unknown id gives a KeyError."""
    verdicts, checks = store.case_verdicts, store.checks
    with store.engine.connect() as connection:
        if connection.execute(sa.select(store.runs.c.id).where(store.runs.c.id == run_id)).first() is None:
            raise KeyError(run_id)
        query = (sa.select(verdicts.c.case_id, verdicts.c.case_hash, verdicts.c.implementation,
                           verdicts.c.passed.label("case_passed"), verdicts.c.state.label("case_state"),
                           verdicts.c.inconclusive.label("case_inconclusive"), verdicts.c.error_kind, verdicts.c.errors,
                           verdicts.c.network, verdicts.c.dtype, verdicts.c.seconds, verdicts.c.path,
                           verdicts.c.title, verdicts.c.through_time, verdicts.c.first_departure,
                           checks.c.quantity, checks.c.tensor, checks.c.reference, checks.c.method,
                           checks.c.passed, checks.c.state, checks.c.inconclusive, checks.c.convention,
                           checks.c.max_abs_err, checks.c.max_rel_err, checks.c.worst_index,
                           checks.c.atol, checks.c.rtol, checks.c.checked, checks.c.note, checks.c.actual,
                           checks.c.expected_value, checks.c.diagnosis, checks.c.diagnosis_note,
                           checks.c.nondifferentiable, checks.c.step, checks.c.error_estimate)
                 .select_from(verdicts.outerjoin(checks, checks.c.case_verdict_id == verdicts.c.id))
                 .where(verdicts.c.run_id == run_id)
                 .order_by(verdicts.c.id, checks.c.id))
        rows = connection.execute(query).mappings().all()
    return pd.DataFrame(rows, columns=list(query.selected_columns.keys()))


def run_row(store: Store, run_id: str) -> dict:
    """The run's own row (RUN_COLUMNS); an unknown id gives a KeyError."""
    with store.engine.connect() as connection:
        row = connection.execute(sa.select(*(store.runs.c[name] for name in RUN_COLUMNS))
                                 .where(store.runs.c.id == run_id)).mappings().first()
    if row is None:
        raise KeyError(run_id)
    return dict(row)
