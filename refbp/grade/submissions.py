"""Submissions kept in the verdict store, and read back as the teacher's table.

A submission is one stored run (command `verify`: its result document was judged as `refbp
verify` judges one), its rows the verdicts, its implementation `<assignment>/<student>`, and its
environment the grade (`grading`: the assignment, the student, the total and each test's points,
refbp.grade.assignment.grade_facts). Written with the run in one transaction, so a submission is
in the table exactly when its run is in the store.

The table is read along the runs' index on (started, id), newest first, a page at a time (as
refbp.store.runs_frame reads the runs): a run whose environment names no such grading (a plain
POST /v1/verify whose implementation merely looks like `<assignment>/...`) is left out.
"""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from ..check.suite import SuiteRun
from .assignment import grade_facts
from .points import Grade

GRADING = "grading"
COLUMNS = ["submission", "submitted", "student", "score", "max_score", "percent", "tests_passed", "implementation"]


def submission_run(run: SuiteRun, assignment: str, student: str) -> SuiteRun:
    """`run` named as the assignment's submission of `student` (what its stored row says)."""
    run.implementation = f"{assignment}/{student}"
    return run


def submission_environment(environment: dict, assignment: str, student: str, grade: Grade, implementation: str) -> dict:
    """The stored run's environment: `environment` (the server's facts) and the grade."""
    return {
        **environment,
        GRADING: {"assignment": assignment, "student": student, "implementation": implementation, **grade_facts(grade)},
    }


def submissions(
    store, assignment: str, limit: int = 1000, before: str | None = None
) -> tuple[pd.DataFrame, str | None]:
    """(the table, the id to ask `before` for the next page, or None at the end): one row per
    submission of `assignment`, newest first, with COLUMNS and one column per test (its points)."""
    runs = store.runs
    query = (
        sa.select(runs.c.id, runs.c.started, runs.c.environment)
        .where(runs.c.command == "verify", runs.c.implementation.startswith(f"{assignment}/", autoescape=True))
        .order_by(runs.c.started.desc(), runs.c.id.desc())
        .limit(limit)
    )
    if before is not None:
        started = sa.select(runs.c.started).where(runs.c.id == before).scalar_subquery()
        query = query.where(sa.or_(runs.c.started < started, sa.and_(runs.c.started == started, runs.c.id < before)))
    with store.reading() as connection:
        found = connection.execute(query).all()
    read = [_row(run_id, started, (environment or {}).get(GRADING)) for run_id, started, environment in found]
    rows = [row for row in read if row is not None and row.pop("assignment") == assignment]
    following = found[-1][0] if len(found) == limit else None
    return _frame(rows), following


def _row(run_id: str, started: str, grading) -> dict | None:
    if not isinstance(grading, dict) or not isinstance(grading.get("tests"), list):
        return None
    tests = {name: score for name, score, _max, _status in grading["tests"]}
    passed = sum(status == "passed" for *_, status in grading["tests"])
    score, most = float(grading.get("score", 0.0)), float(grading.get("max_score", 0.0))
    return {
        "assignment": grading.get("assignment"),
        "submission": run_id,
        "submitted": started,
        "student": grading.get("student", ""),
        "score": score,
        "max_score": most,
        "percent": round(100.0 * score / most, 1) if most else float("nan"),
        "tests_passed": f"{passed}/{len(grading['tests'])}",
        "implementation": grading.get("implementation", ""),
        **tests,
    }


def _frame(rows: list[dict]) -> pd.DataFrame:
    tests = list(dict.fromkeys(key for row in rows for key in row if key not in COLUMNS))
    return pd.DataFrame(rows, columns=COLUMNS + tests)


# A cell a spreadsheet would read as a formula (a student's implementation name is theirs to choose):
# written with a leading apostrophe, as OWASP advises against CSV injection.
FORMULA = ("=", "+", "-", "@", "\t", "\r")


def submissions_csv(frame: pd.DataFrame) -> str:
    """The table as CSV (a gradebook imports it): one row per submission, one column per test."""
    safe = frame.copy()
    for column in safe.columns:
        safe[column] = safe[column].map(lambda v: f"'{v}" if isinstance(v, str) and v.startswith(FORMULA) else v)
    return safe.to_csv(index=False)
