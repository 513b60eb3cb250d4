"""Stored runs side by side for the service (`GET /v1/compare`, the page /compare): the columns
and tables of refbp.compare, read from the service's verdict store."""

from __future__ import annotations

from refbp.compare import case_table, load_column
from refbp.compare.columns import STORE_PREFIX, ColumnError

MAX_RUNS = 12


def run_ids(runs: str) -> list[str]:
    """The ids of `?runs=A,B,...` (ColumnError when none or too many)."""
    ids = [r.strip() for r in runs.split(",") if r.strip()]
    if not ids:
        raise ColumnError("runs: name at least one stored run (?runs=ID,ID)")
    if len(ids) > MAX_RUNS:
        raise ColumnError(f"runs: {len(ids)} runs, more than the limit of {MAX_RUNS}")
    return ids


def stored_columns(runs: str, verifier) -> list:
    if verifier.store is None:
        raise ColumnError("the verdict store is off (REFBP_DATABASE_URL=none)")
    url = verifier.store.engine.url.render_as_string(hide_password=False)
    return [load_column(STORE_PREFIX + run_id, url) for run_id in run_ids(runs)]


def compared_cases(runs: str, verifier):
    return case_table(stored_columns(runs, verifier))
