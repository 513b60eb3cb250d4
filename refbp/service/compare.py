"""Stored runs side by side for the service (`GET /v1/compare`, the page /compare): the columns
and tables of refbp.compare, read from the service's one open store in two queries (the runs
named, then all their rows), whatever the store's size. At most MAX_RUNS runs at once.

A stored run never changes, so the columns and the table of a set of runs are kept (the last
CACHED sets): a flood of the same compare costs its two queries' first one, not pandas' work.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import cached_property

from refbp.compare import case_table
from refbp.compare.columns import ColumnError, stored_column
from refbp.report.console import json_rows
from refbp.store import named_runs, runs_checks

MAX_RUNS = 12
CACHED = 32
_cache: OrderedDict = OrderedDict()
_cache_lock = threading.Lock()


def run_ids(runs: str) -> list[str]:
    """The ids of `?runs=A,B,...` (ColumnError when none or too many)."""
    ids = [r.strip() for r in runs.split(",") if r.strip()]
    if not ids:
        raise ColumnError("runs: name at least one stored run (?runs=ID,ID)")
    if len(ids) > MAX_RUNS:
        raise ColumnError(f"runs: {len(ids)} runs, more than the limit of {MAX_RUNS}")
    return ids


@dataclass
class Compared:
    columns: list  # one refbp.compare.Column per run, in the order named
    table: object  # refbp.compare.case_table's DataFrame

    @cached_property
    def body(self) -> bytes:
        """The table as the JSON of GET /v1/compare (encoded once per set of runs)."""
        return json.dumps(json_rows(self.table), separators=(",", ":")).encode()


def compared(runs: str, store) -> Compared:
    """The runs named side by side: each an id or a prefix of 8 or more hex digits; ColumnError
    naming the first name that names no run or more than one (never the store's URL or path)."""
    if store is None:
        raise ColumnError("the verdict store is off (REFBP_DATABASE_URL=none)")
    names = run_ids(runs)
    found = named_runs(store, names)
    for name in names:
        if len(found[name]) != 1:
            shown = name[:40].encode("ascii", "backslashreplace").decode()
            what = "no stored run" if not found[name] else "more than one stored run"
            raise ColumnError(f"runs: {shown!r} names {what} (an id, or 8 or more of its first hex digits)")
    runs_found = [found[name][0] for name in names]
    key = (id(store.engine), tuple(run["id"] for run in runs_found))
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    rows = runs_checks(store, list(key[1]))
    columns = [
        stored_column(
            run["id"],
            run["implementation"],
            rows[rows["run_id"] == run["id"]].drop(columns="run_id").reset_index(drop=True),
        )
        for run in runs_found
    ]
    result = Compared(columns, case_table(columns))
    with _cache_lock:
        _cache[key] = result
        while len(_cache) > CACHED:
            _cache.popitem(last=False)
    return result
