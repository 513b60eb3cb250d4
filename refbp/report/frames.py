"""A run as pandas DataFrames: one row per case x quantity x tensor x reference (details), one
per case (summary), and the views the pages draw (failing rows with both values, error over
tolerance). A run of this process and a run read back from the verdict store give the same
frames (`stored_frames`), so that one page shows both.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from refbp.check.provided import partial_items
from refbp.check.record import frame_columns, frame_row
from refbp.check.verdict import ENTRY_COLUMNS, Check, ErrorKind, VerdictState

# The case, a check row's columns as its record lists them (refbp.check.verdict.Check: "passed" is
# true only in the state pass, "state" pass, fail or inconclusive, ...), then where the case is from.
DETAIL_COLUMNS = ["case", *frame_columns(Check), "network", "dtype", "path"]
CASE_COLUMNS = [
    "case",
    "passed",
    "state",
    "inconclusive",
    "error_kind",
    "network",
    "dtype",
    "seconds",
    "errors",
    "path",
    "title",
    "first_departure",
]
REFERENCE_COLUMNS = {
    "torch-autograd": "worst_rel_torch",
    "finite-difference": "worst_rel_fd",
    "expected": "worst_rel_expected",
}
NOT_PROVIDED = "not provided"  # a details row of an asked quantity the implementation did not give
STATUS = {
    ErrorKind.INPUT.value: "bad input",
    ErrorKind.UNSUPPORTED.value: "not supported",
    ErrorKind.CRASH.value: "crashed",
}
PASS, FAIL, INCONCLUSIVE = (state.value for state in (VerdictState.PASS, VerdictState.FAIL, VerdictState.INCONCLUSIVE))


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


def status_of(passed: bool, error_kind: str, state: str | None = None) -> str:
    """bad input / not supported / crashed, else inconclusive, pass or FAIL."""
    if state == INCONCLUSIVE and not error_kind:
        return INCONCLUSIVE
    return STATUS.get(error_kind or "", "pass" if passed else "FAIL")


def row_states(details: pd.DataFrame) -> pd.Series:
    """Each row's state; rows without one (a run stored before the store kept it) from `passed`."""
    passed = details["passed"].fillna(False).astype(bool)
    derived = passed.map({True: PASS, False: FAIL})
    if "state" not in details:
        return derived
    return details["state"].where(details["state"].isin([PASS, FAIL, INCONCLUSIVE, NOT_PROVIDED]), derived)


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


def stored_frames(rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(details, summary) of a run read back from the verdict store (refbp.store.run_checks)."""
    rows = rows.rename(columns={"case_id": "case"})
    first = rows.drop_duplicates("case")
    error_lists = [_list(e) for e in first["errors"]]
    passed = first["case_passed"].fillna(False).astype(bool)
    # Runs stored before the store's migration 0004 have no state (pass or fail, from passed)
    # and no count of inconclusive entries (0).
    case_states = first.get("case_state", pd.Series(None, index=first.index, dtype=object))
    case_states = case_states.where(case_states.isin([PASS, FAIL, INCONCLUSIVE]), passed.map({True: PASS, False: FAIL}))
    inconclusive = pd.to_numeric(first.get("case_inconclusive", pd.Series(0, index=first.index))).fillna(0)
    cases = pd.DataFrame(
        {
            "case": first["case"],
            "passed": passed & (case_states == PASS),
            "state": case_states,
            "inconclusive": inconclusive.astype(int),
            "error_kind": first["error_kind"],
            "network": first.get("network", ""),
            "dtype": first.get("dtype", ""),
            "seconds": first.get("seconds", np.nan),
            "errors": [" | ".join(e) for e in error_lists],
            "path": first.get("path", ""),
            # Runs stored before the store's migration 0003 have no title and no first departure (NULL).
            "title": _text(first.get("title")),
            "first_departure": _text(first.get("first_departure")),
        },
        columns=CASE_COLUMNS,
    )
    checks = rows[rows["quantity"].notna()].copy()
    checks["worst_index"] = [str(_list(i)) for i in checks["worst_index"]]
    checks["passed"] = checks["passed"].fillna(False).astype(bool)
    checks["state"] = row_states(checks)
    checks["passed"] = checks["state"] == PASS
    checks["convention"] = _text(checks["convention"]) if "convention" in checks else ""
    errors = [
        {
            "case": c.case,
            "quantity": "error",
            "tensor": "",
            "reference": "",
            "passed": False,
            "state": FAIL,
            "note": error,
            "network": c.network,
            "dtype": c.dtype,
        }
        for c, listed in zip(cases.itertuples(index=False), error_lists)
        for error in listed
    ]
    details = pd.concat(
        [checks.reindex(columns=DETAIL_COLUMNS), pd.DataFrame(errors, columns=DETAIL_COLUMNS)], ignore_index=True
    )
    return details, summary_of(details, cases)


def stored_through_time(rows: pd.DataFrame) -> dict[str, tuple[str, list[float]]]:
    """{case: (its title, ||dE/dh_t|| for t = 0..T)} of the stored RNN verdicts of a run
    (refbp.store.run_checks's rows; none for a run stored before the store kept them)."""
    if "through_time" not in rows:
        return {}
    first = rows.drop_duplicates("case_id")
    titles = dict(zip(first["case_id"], _text(first.get("title"))))
    listed = {
        case: _list(norms)
        for case, norms in zip(first["case_id"], first["through_time"])
        if isinstance(norms, (list, str))
    }
    return {
        case: (titles.get(case, ""), [math.nan if x is None else float(x) for x in norms])
        for case, norms in listed.items()
        if norms
    }


def _text(column) -> list[str] | str:
    """A text column with its NULLs (None, NaN) as "" (a missing column: "")."""
    if column is None:
        return ""
    return ["" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value) for value in column]


def _list(value) -> list:
    if isinstance(value, str):
        value = json.loads(value) if value else []
    return list(value) if value is not None else []
