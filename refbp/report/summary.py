"""One row per case from a run's details and cases frames: its status, rows, failed rows and the
largest relative error per reference.
"""

from __future__ import annotations

import pandas as pd

from .columns import FAIL, NOT_PROVIDED, PASS, REFERENCE_COLUMNS, row_states, status_of


def summary_of(details: pd.DataFrame, cases: pd.DataFrame) -> pd.DataFrame:
    """One row per case: its status, rows, failed rows, the largest relative error per reference."""
    listed = details["state"] == NOT_PROVIDED
    checks = details[(details["quantity"] != "error") & ~listed]
    states = row_states(checks)
    records = []
    for case in cases.itertuples(index=False):
        mine = checks["case"] == case.case
        rows = checks[mine]
        state = getattr(case, "state", None)
        # itertuples gives pandas' scalars, which mypy cannot narrow to the columns' types
        status = status_of(case.passed, case.error_kind, state)  # type: ignore[arg-type]
        if status == "pass" and bool((listed & (details["case"] == case.case)).any()):
            status = "partial"  # passed on what it gives, the rest not provided
        row = {
            "case": case.case,
            "passed": bool(case.passed) and state in (None, PASS),
            "status": status,
            "network": case.network,
            "dtype": case.dtype,
            "checks": len(rows),
            "failed": int((states[mine] == FAIL).sum()),
            "nondifferentiable": int(pd.to_numeric(rows["nondifferentiable"]).fillna(0).sum()),
            "inconclusive": int(pd.to_numeric(rows["inconclusive"]).fillna(0).sum()),
        }
        for reference, column in REFERENCE_COLUMNS.items():
            errors = pd.to_numeric(rows.loc[rows["reference"] == reference, "max_rel_err"]).astype(float)
            row[column] = float(errors.max()) if len(errors) else float("nan")
        row.update(seconds=case.seconds, errors=case.errors, first_departure=case.first_departure, path=case.path)
        records.append(row)
    columns = [
        "case",
        "passed",
        "status",
        "network",
        "dtype",
        "checks",
        "failed",
        "nondifferentiable",
        "inconclusive",
        *REFERENCE_COLUMNS.values(),
        "seconds",
        "errors",
        "first_departure",
        "path",
    ]
    return pd.DataFrame.from_records(records, columns=columns)
