"""A run as pandas DataFrames: one row per case x quantity x tensor x reference (details), one
per case (summary), and the views the pages draw (failing rows with both values, error over
tolerance). A run of this process and a run read back from the verdict store give the same
frames (`stored_frames`), so that one page shows both.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from refbp.check.provided import partial_items
from refbp.check.record import frame_row
from refbp.check.verdict import ENTRY_COLUMNS, ErrorKind, VerdictState

from .columns import CASE_COLUMNS as CASE_COLUMNS
from .columns import DETAIL_COLUMNS as DETAIL_COLUMNS
from .columns import FAIL as FAIL
from .columns import INCONCLUSIVE as INCONCLUSIVE
from .columns import NOT_PROVIDED as NOT_PROVIDED
from .columns import PASS as PASS
from .columns import REFERENCE_COLUMNS as REFERENCE_COLUMNS
from .columns import STATUS as STATUS
from .columns import row_states as row_states
from .columns import status_of as status_of
from .stored import _list as _list
from .stored import _text as _text
from .stored import stored_frames as stored_frames
from .stored import stored_through_time as stored_through_time
from .summary import summary_of as summary_of


def details_frame(run) -> pd.DataFrame:
    """Every check row; a case that could not be checked gives one row with quantity "error"."""
    records = []
    for verdict in run.verdicts:
        base = {"case": verdict.case, "network": verdict.network, "dtype": verdict.dtype, "path": verdict.path}
        for check in verdict.checks:
            records.append(dict(base, **frame_row(check)))
        # A declined case's line is no failure: its state says "not supported", as its summary does.
        state = "not supported" if verdict.error_kind == ErrorKind.UNSUPPORTED else FAIL
        for error in verdict.errors:
            records.append(dict(base, quantity="error", tensor="", reference="", passed=False, state=state, note=error))
        for item in partial_items(verdict):  # listed, never judged (refbp.check.provided)
            quantity, _, tensor = item.partition(".")
            records.append(
                dict(
                    base,
                    quantity=quantity,
                    tensor=tensor or quantity,
                    reference="",
                    passed=False,
                    state=NOT_PROVIDED,
                    note="not provided by the implementation",
                )
            )
    return pd.DataFrame.from_records(records, columns=DETAIL_COLUMNS)


def entries_table(entries) -> pd.DataFrame:
    """Per-entry records (refbp.check.verdict.EntryRecord) as entries.csv's rows: case, quantity,
    tensor, reference, index ("[1][0]"), state, method, actual, reference_value, note."""
    return pd.DataFrame.from_records([entry.to_row() for entry in entries], columns=list(ENTRY_COLUMNS))


def entries_frame(run) -> pd.DataFrame:
    """entries.csv of a run: every entry its rows list as not plainly passing (Check.entries:
    failed, inconclusive, at a kink), in the order of the cases and rows."""
    return entries_table(
        entry for verdict in run.verdicts for check in verdict.checks for entry in getattr(check, "entries", ())
    )


def cases_frame(run) -> pd.DataFrame:
    """One row per verdict: what the case is and how it ended, without its rows."""
    return pd.DataFrame.from_records(
        [
            {
                "case": v.case,
                "passed": v.state is VerdictState.PASS,
                "state": v.state.value,
                "inconclusive": v.inconclusive,
                "error_kind": str(v.error_kind),
                "network": v.network,
                "dtype": v.dtype,
                "seconds": round(v.seconds, 4),
                "errors": " | ".join(v.errors),
                "path": v.path,
                "title": v.title,
                "first_departure": v.first_departure,
            }
            for v in run.verdicts
        ],
        columns=CASE_COLUMNS,
    )


def summary_frame(run) -> pd.DataFrame:
    return summary_of(details_frame(run), cases_frame(run))


def worst_by_reference(details: pd.DataFrame) -> pd.DataFrame:
    """Per judged reference: its rows, how many failed and were inconclusive, the largest absolute
    and relative error."""
    judged = details[details["reference"].isin(list(REFERENCE_COLUMNS))]
    if judged.empty:
        return pd.DataFrame(columns=["reference", "rows", "failed", "inconclusive", "max_abs_err", "max_rel_err"])
    judged = judged.assign(row_state=row_states(judged))
    return (
        judged.groupby("reference")
        .agg(
            rows=("row_state", "size"),
            failed=("row_state", lambda s: int((s == FAIL).sum())),
            inconclusive=("row_state", lambda s: int((s == INCONCLUSIVE).sum())),
            max_abs_err=("max_abs_err", "max"),
            max_rel_err=("max_rel_err", "max"),
        )
        .reset_index()
    )


def failing_rows(details: pd.DataFrame) -> pd.DataFrame:
    """The failed check rows with the two values at the worst entry, in full, and their difference."""
    failed = details[(row_states(details) == FAIL) & (details["quantity"] != "error")]
    actual = pd.to_numeric(failed["actual"]).astype(float)
    reference = pd.to_numeric(failed["expected_value"]).astype(float)
    with np.errstate(invalid="ignore"):
        difference = actual - reference
    return pd.DataFrame(
        {
            "case": failed["case"],
            "quantity": failed["quantity"],
            "tensor": failed["tensor"],
            "reference": failed["reference"],
            "worst_index": failed["worst_index"],
            "actual": actual,
            "reference_value": reference,
            "difference": difference,
            "max_abs_err": failed["max_abs_err"],
            "max_rel_err": failed["max_rel_err"],
            "atol": failed["atol"],
            "rtol": failed["rtol"],
            "note": failed["note"],
            "diagnosis": failed["diagnosis"],
            "diagnosis_note": failed["diagnosis_note"],
        }
    ).reset_index(drop=True)


def error_over_tolerance(details: pd.DataFrame) -> pd.Series:
    """Per row, |actual - reference| / (atol + rtol |reference|) at its worst entry (> 1: out of
    tolerance; a failed row without both values, e.g. a wrong shape: infinity)."""
    actual = pd.to_numeric(details["actual"]).astype(float)
    reference = pd.to_numeric(details["expected_value"]).astype(float)
    atol = pd.to_numeric(details["atol"]).astype(float)
    rtol = pd.to_numeric(details["rtol"]).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = (actual - reference).abs() / (atol + rtol * reference.abs())
    failed = row_states(details) == FAIL
    ratio[failed & ratio.isna()] = np.inf
    ratio[~failed & ratio.isna() & details["reference"].isin(list(REFERENCE_COLUMNS))] = 0.0
    return ratio
