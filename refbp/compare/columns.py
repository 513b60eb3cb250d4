"""Reading one column of a comparison: a run folder, a verdict file, or a stored run, as one
tidy DataFrame of check rows (one row per case x quantity x tensor x reference; a case
without rows, e.g. bad input or not supported, as one row with empty check fields)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

# case_state and state: pass, fail or inconclusive (a verdict written or stored before there were
# three states: pass or fail, from passed).
ROW_COLUMNS = (
    "case",
    "case_hash",
    "implementation",
    "case_passed",
    "case_state",
    "error_kind",
    "seconds",
    "quantity",
    "tensor",
    "reference",
    "passed",
    "state",
    "max_abs_err",
    "max_rel_err",
    "atol",
    "rtol",
)
CHECK_KEYS = ROW_COLUMNS[ROW_COLUMNS.index("quantity") :]
STORE_PREFIX = "store:"


class ColumnError(ValueError):
    """A source that is not a run folder, a verdict file or a stored run (bad input, exit 2)."""


@dataclass
class Column:
    label: str  # the implementation's name (made unique among the columns)
    source: str  # where it was read from
    rows: pd.DataFrame  # ROW_COLUMNS


def load_column(source: str, store_url: str | None = None) -> Column:
    if source.startswith(STORE_PREFIX):
        return _stored(source[len(STORE_PREFIX) :], store_url)
    path = Path(source)
    if path.is_dir():
        path = path / "verdicts.json"
        if not path.is_file():
            raise ColumnError(f"{source}: not a report folder (no verdicts.json)")
    if not path.is_file():
        raise ColumnError(f"{source}: no such file or folder (a run folder, a verdict file, or store:RUN)")
    try:
        documents = json.loads(path.read_text())
    except (OSError, ValueError, RecursionError) as exc:
        raise ColumnError(f"{path}: not a verdict file: {type(exc).__name__}") from exc
    if isinstance(documents, dict):
        documents = [documents]
    if not isinstance(documents, list) or not all(
        isinstance(d, dict) and d.get("format") == "refbp-verdict/1" for d in documents
    ):
        raise ColumnError(f"{path}: format: expected refbp-verdict/1 documents")
    rows = [row for document in documents for row in _verdict_rows(document)]
    frame = pd.DataFrame(rows, columns=list(ROW_COLUMNS))
    names = sorted({d.get("implementation", "") for d in documents if d.get("implementation")})
    return Column(", ".join(names) or path.parent.name, str(path), frame)


def _verdict_rows(document: dict) -> list[dict]:
    error_kind = document.get("error_kind", "input" if document.get("errors") and not document.get("checks") else "")
    passed = bool(document.get("passed"))
    case = {
        "case": document.get("case", ""),
        "case_hash": document.get("case_hash", ""),
        "implementation": document.get("implementation", ""),
        "case_passed": passed,
        "case_state": _state(document.get("state"), passed),
        "error_kind": error_kind,
        "seconds": document.get("seconds", float("nan")),
    }
    checks = document.get("checks") or []
    if not checks:
        return [case]
    return [
        dict(
            case,
            **{key: check.get(key) for key in CHECK_KEYS}
            | {"state": _state(check.get("state"), bool(check.get("passed")))},
        )
        for check in checks
    ]


def _state(state, passed: bool) -> str:
    return state if state in ("pass", "fail", "inconclusive") else "pass" if passed else "fail"


def _stored(run_id: str, store_url: str | None) -> Column:
    from refbp.store import open_store, run_checks, runs_frame

    store = open_store(store_url)
    runs = runs_frame(store, limit=None)
    matches = runs[runs["id"].str.startswith(run_id)] if run_id else runs.iloc[0:0]
    if len(matches) != 1:
        found = "no run" if len(matches) == 0 else f"{len(matches)} runs"
        raise ColumnError(f"store:{run_id}: {found} with that id in {store.url}")
    run = matches.iloc[0]
    return stored_column(run["id"], run["implementation"], run_checks(store, run["id"]))


def stored_column(run_id: str, implementation: str, rows: pd.DataFrame) -> Column:
    """The column of a stored run from its rows (refbp.store.run_checks' columns)."""
    rows = rows.rename(columns={"case_id": "case"})
    rows["seconds"] = float("nan")
    rows["case_state"] = [_state(s, bool(p)) for s, p in zip(rows["case_state"], rows["case_passed"])]
    checked = rows["quantity"].notna()
    rows.loc[checked, "state"] = [
        _state(s, bool(p)) for s, p in zip(rows.loc[checked, "state"], rows.loc[checked, "passed"])
    ]
    return Column(implementation, f"store:{run_id}", rows.reindex(columns=list(ROW_COLUMNS)))
