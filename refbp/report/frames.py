"""A run as pandas DataFrames: one row per case x quantity x tensor x reference, and one per case."""

from __future__ import annotations

import pandas as pd

DETAIL_COLUMNS = [
    "case", "quantity", "tensor", "reference", "max_abs_err", "max_rel_err", "worst_index",
    "atol", "rtol", "passed", "note", "checked", "nondifferentiable", "actual", "expected_value",
    "method", "step", "error_estimate", "diagnosis", "diagnosis_note", "network", "dtype", "path",
]
REFERENCE_COLUMNS = {"torch-autograd": "worst_rel_torch", "finite-difference": "worst_rel_fd",
                     "expected": "worst_rel_expected"}


def details_frame(run) -> pd.DataFrame:
    """Every check row; a case that could not be checked gives one row with quantity "error"."""
    records = []
    for verdict in run.verdicts:
        base = {"case": verdict.case, "network": verdict.network, "dtype": verdict.dtype, "path": verdict.path}
        for check in verdict.checks:
            row = dict(base, **{k: getattr(check, k) for k in DETAIL_COLUMNS if hasattr(check, k)})
            row["worst_index"] = str(check.worst_index)
            records.append(row)
        for error in verdict.errors:
            records.append(dict(base, quantity="error", tensor="", reference="", passed=False, note=error))
    return pd.DataFrame.from_records(records, columns=DETAIL_COLUMNS)


def summary_frame(run) -> pd.DataFrame:
    records = []
    for verdict in run.verdicts:
        row = {
            "case": verdict.case, "passed": verdict.passed, "network": verdict.network, "dtype": verdict.dtype,
            "checks": len(verdict.checks), "failed": len(verdict.failed_checks()),
            "nondifferentiable": sum(c.nondifferentiable for c in verdict.checks),
            "errors": " | ".join(verdict.errors), "seconds": round(verdict.seconds, 4), "path": verdict.path,
            "first_departure": verdict.first_departure,
        }
        for reference, column in REFERENCE_COLUMNS.items():
            errs = [c.max_rel_err for c in verdict.checks if c.reference == reference]
            row[column] = max(errs) if errs else float("nan")
        records.append(row)
    columns = ["case", "passed", "network", "dtype", "checks", "failed", "nondifferentiable",
               *REFERENCE_COLUMNS.values(), "seconds", "errors", "first_departure", "path"]
    return pd.DataFrame.from_records(records, columns=columns)


def worst_by_reference(details: pd.DataFrame) -> pd.DataFrame:
    """Per judged reference: its rows, how many failed, the largest absolute and relative error."""
    judged = details[details["reference"].isin(list(REFERENCE_COLUMNS))]
    if judged.empty:
        return pd.DataFrame(columns=["reference", "rows", "failed", "max_abs_err", "max_rel_err"])
    return (judged.groupby("reference")
            .agg(rows=("passed", "size"), failed=("passed", lambda s: int((~s.astype(bool)).sum())),
                 max_abs_err=("max_abs_err", "max"), max_rel_err=("max_rel_err", "max"))
            .reset_index())
