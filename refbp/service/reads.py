"""The reads of the verdict store: runs (a page at a time), one run (its rows a page at a time)
and compare (at most MAX_RUNS runs). Every read runs in the read pool (its own threads, its own
queue, its own time limit), through the one engine the server opened, and costs the same
whatever the store's size."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import Response

from refbp.compare.columns import ColumnError
from refbp.report.console import json_rows
from refbp.store import Store, run_checks, run_row, runs_frame

from .catalog import shown
from .compare import compared
from .deps import STORE_OFF, read_access, read_pool_of, settings_of, store_of, verifier_of
from .openapi import not_found
from .pool import CheckPool
from .settings import Settings
from .verifier import Verifier

MAX_ROWS = 10_000
router = APIRouter(dependencies=[Depends(read_access)])

__all__ = ["MAX_ROWS", "STORE_OFF", "router", "shown"]


@router.get(
    "/v1/runs",
    summary="the runs kept in the verdict store, newest first (a page: ?limit=, ?before=ID)",
    responses=not_found("the store is off (a `before` that names no run: an empty page)"),
)
async def runs(
    implementation: str | None = Query(None, max_length=200),
    limit: int = Query(50, ge=1, le=1000),
    before: str | None = Query(None, max_length=32),
    store: Store = Depends(store_of),
    reads: CheckPool = Depends(read_pool_of),
    settings: Settings = Depends(settings_of),
):
    frame = await reads.run(runs_frame, store, implementation, limit, before, seconds=settings.limits.read_seconds)
    return json_rows(frame)


@router.get(
    "/v1/runs/{run_id}",
    summary="one stored run and a page of its rows (one per case x quantity x tensor x reference; ?offset=, ?limit=)",
    responses=not_found("no such run"),
)
async def run(
    run_id: str,
    offset: int = Query(0, ge=0, le=10_000_000),
    limit: int = Query(MAX_ROWS, ge=1, le=MAX_ROWS),
    store: Store = Depends(store_of),
    reads: CheckPool = Depends(read_pool_of),
    settings: Settings = Depends(settings_of),
):
    def read():
        return run_row(store, run_id), run_checks(store, run_id, limit=limit + 1, offset=offset)

    try:
        row, rows = await reads.run(read, seconds=settings.limits.read_seconds)
    except KeyError:
        raise HTTPException(404, f"no run {shown(run_id)} in the verdict store") from None
    more = len(rows) > limit
    following = f"/v1/runs/{run_id}?offset={offset + limit}&limit={limit}" if more else None
    return {"run": row, "rows": json_rows(rows.iloc[:limit]), "next": following}


@router.get(
    "/v1/compare",
    summary="stored runs side by side, one row per case (?runs=ID,ID,...; at most 12)",
    responses=not_found("a name that names no stored run, or more than one"),
)
async def compare(
    runs: str = Query(..., max_length=4096),
    verifier: Verifier = Depends(verifier_of),
    reads: CheckPool = Depends(read_pool_of),
    settings: Settings = Depends(settings_of),
):
    def table():
        return compared(runs, verifier.store).body

    try:
        return Response(await reads.run(table, seconds=settings.limits.read_seconds), media_type="application/json")
    except ColumnError as exc:
        raise HTTPException(404, str(exc)) from None
