"""The read routes of the API: health and readiness, cases, schemas, runs (a page at a time),
one run (its rows a page at a time) and compare (at most MAX_RUNS runs). Every read of the
store runs in the read pool (its own threads, its own queue, its own time limit), through
the one engine the server opened, and costs the same whatever the store's size."""

from __future__ import annotations

from fastapi import HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response

from refbp.cases.schema import SCHEMAS, schema_document
from refbp.compare.columns import ColumnError
from refbp.report.console import json_rows
from refbp.store import run_checks, run_row, runs_frame, write_problem

from .compare import compared
from .guards import authorize_read
from .openapi import not_found

STORE_OFF = "the verdict store is off (REFBP_DATABASE_URL=none)"
MAX_ROWS = 10_000


def shown(text: str, length: int = 80) -> str:
    """A name from a request as an error may quote it: cut, in ASCII (a lone surrogate escaped)."""
    return repr(text[:length].encode("ascii", "backslashreplace").decode("ascii"))


def add_reads(app, verifier, settings, reads) -> None:
    seconds = settings.limits.read_seconds

    def store():
        if verifier.store is None:
            raise HTTPException(404, STORE_OFF)
        return verifier.store

    @app.get("/healthz", summary="liveness: the process answers (no store access)")
    def healthz():
        return {"status": "ok", "cases": len(verifier.suite), "store": verifier.store is not None}

    @app.get("/readyz", summary="readiness: the verdict store can be written now",
             responses={503: {"description": "the store cannot be written (the reason named)"}})
    async def readyz():
        problem = None if verifier.store is None else await reads.run(write_problem, verifier.store, seconds=seconds)
        if problem is not None:
            return JSONResponse({"status": "not ready", "detail": f"the verdict store cannot be written: {problem}"},
                                status_code=503, headers={"Retry-After": "5"})
        return {"status": "ready", "store": verifier.store is not None}

    @app.get("/v1/cases", summary="the cases results are judged against: id, title, network, loss, dtype, tags")
    def cases(request: Request):
        authorize_read(request, settings)
        return verifier.cases()

    @app.get("/v1/cases/{case_id}", summary="one case in its explicit form (every number written out)",
             responses={200: {"description": "a refbp-case/1 document", "content": {"application/json": {
                 "schema": {"$ref": "#/components/schemas/refbp-case-1"}}}}, **not_found("no such case")})
    def case(request: Request, case_id: str):
        authorize_read(request, settings)
        document = verifier.explicit_case(case_id)
        if document is None:
            raise HTTPException(404, f"no case {shown(case_id)} (GET /v1/cases lists them)")
        return document

    @app.get("/v1/schemas/{name}", summary="the JSON Schema of a format: case, result, results or verdict",
             responses=not_found("no such schema"))
    def schema(name: str):
        if name not in SCHEMAS:
            raise HTTPException(404, f"no schema {shown(name, 40)} (known: {', '.join(SCHEMAS)})")
        return schema_document(name)

    @app.get("/v1/runs", summary="the runs kept in the verdict store, newest first (a page: ?limit=, ?before=ID)",
             responses=not_found("the store is off (a `before` that names no run: an empty page)"))
    async def runs(request: Request, implementation: str | None = Query(None, max_length=200),
                   limit: int = Query(50, ge=1, le=1000), before: str | None = Query(None, max_length=32)):
        authorize_read(request, settings)
        frame = await reads.run(runs_frame, store(), implementation, limit, before, seconds=seconds)
        return json_rows(frame)

    @app.get("/v1/runs/{run_id}", summary="one stored run and a page of its rows (one per case x quantity x "
                                          "tensor x reference; ?offset=, ?limit=)", responses=not_found("no such run"))
    async def run(request: Request, run_id: str, offset: int = Query(0, ge=0, le=10_000_000),
                  limit: int = Query(MAX_ROWS, ge=1, le=MAX_ROWS)):
        authorize_read(request, settings)

        def read():
            row = run_row(store(), run_id)
            return row, run_checks(store(), run_id, limit=limit + 1, offset=offset)

        try:
            row, rows = await reads.run(read, seconds=seconds)
        except KeyError:
            raise HTTPException(404, f"no run {shown(run_id)} in the verdict store") from None
        more = len(rows) > limit
        following = f"/v1/runs/{run_id}?offset={offset + limit}&limit={limit}" if more else None
        return {"run": row, "rows": json_rows(rows.iloc[:limit]), "next": following}

    @app.get("/v1/compare", summary="stored runs side by side, one row per case (?runs=ID,ID,...; at most 12)",
             responses=not_found("a name that names no stored run, or more than one"))
    async def compare(request: Request, runs: str = Query(..., max_length=4096)):
        authorize_read(request, settings)

        def table():
            return compared(runs, verifier.store).body

        try:
            return Response(await reads.run(table, seconds=seconds), media_type="application/json")
        except ColumnError as exc:
            raise HTTPException(404, str(exc)) from None
