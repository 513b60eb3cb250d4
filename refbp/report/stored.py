"""A run read back from the verdict store (refbp.store.run_checks) as the frames of a run of this
process (refbp.report.frames), so that one page shows both.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from .columns import CASE_COLUMNS, DETAIL_COLUMNS, FAIL, INCONCLUSIVE, PASS, row_states
from .summary import summary_of


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
