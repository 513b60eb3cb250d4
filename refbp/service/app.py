"""The HTTP API of the verification service (FastAPI): health, cases, schemas, verify, runs and
compare, under the limits of settings.py. The pages people read are refbp.service.pages.

Every route only calls library functions: the judging (refbp.check.verify through
Verifier), the store (refbp.store), the comparison (refbp.compare). A bad request gets a
one-line `detail` and a status that says what was wrong; the server goes on serving.
"""

from __future__ import annotations

import hmac
import logging

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse

from cases import CaseError
from cases.schema import SCHEMAS, schema_document

from refbp import __version__
from refbp.compare.columns import ColumnError
from refbp.report.console import json_rows
from refbp.store import run_checks, run_row, runs_frame

from .body import BodyProblem, check_sizes, parse_body, read_body
from .compare import compared_cases
from .openapi import VERIFY_RESPONSES, format_components, verify_request
from .pages import add_pages
from .pool import Busy, CheckPool, CheckTimeout
from .settings import Settings
from .verifier import Verifier

LOG = logging.getLogger("refbp.service")
RETRY_SECONDS = 1
CONVENTIONS = ("any", "torch")
CONVENTIONS_HELP = ("which values pass where correct implementations may differ (docs/formats.md, 'Conventions'): "
                    "any (default), every admissible convention; torch, only torch's own choices (relu'(0) = 0, "
                    "BCELoss's backward)")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_environment()
    limits = settings.limits
    verifier = Verifier(settings.case_paths, settings.database, settings.executor)
    pool = CheckPool(limits.threads, limits.queue)
    app = FastAPI(title="refbp verification service", version=__version__, docs_url=None, redoc_url=None, openapi_url=None,
                  description="Judge an implementation's results against refbp's suite (torch autograd in "
                              "float64, finite differences, published values); read the runs kept in the "
                              "verdict store. The bodies are the formats of docs/formats.md.")
    app.state.verifier, app.state.settings = verifier, settings
    app.router.on_shutdown.append(pool.close)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"])

    @app.exception_handler(BodyProblem)
    async def body_problem(_request, exc: BodyProblem):
        return JSONResponse({"detail": str(exc)}, status_code=exc.status)

    @app.exception_handler(CaseError)
    async def not_of_the_formats(_request, exc: CaseError):
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(Busy)
    @app.exception_handler(CheckTimeout)
    async def busy(_request, exc):
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": str(RETRY_SECONDS)})

    @app.exception_handler(Exception)
    async def crashed(_request, exc):  # a bug of the service: logged, answered, and the server goes on
        LOG.exception("unhandled error")
        return JSONResponse({"detail": f"internal error: {type(exc).__name__}"}, status_code=500)

    @app.get("/healthz", summary="the service is up")
    def healthz():
        return {"status": "ok", "cases": len(verifier.suite), "store": verifier.store is not None}

    @app.get("/v1/cases", summary="the cases results are judged against: id, title, network, loss, dtype, tags")
    def cases():
        return verifier.cases()

    @app.get("/v1/cases/{case_id}", summary="one case in its explicit form (every number written out)",
             responses={200: {"description": "a refbp-case/1 document",
                              "content": {"application/json": {"schema": {
                                  "$ref": "#/components/schemas/refbp-case-1"}}}}})
    def case(case_id: str):
        document = verifier.explicit_case(case_id)
        if document is None:
            raise HTTPException(404, f"no case {case_id[:80]!r} (GET /v1/cases lists them)")
        return document

    @app.get("/v1/schemas/{name}", summary="the JSON Schema of a format: case, result, results or verdict")
    def schema(name: str):
        if name not in SCHEMAS:
            raise HTTPException(404, f"no schema {name[:40]!r} (known: {', '.join(SCHEMAS)})")
        return schema_document(name)

    def judge(body: bytes, conventions: str = "any"):
        """Parse, judge, record and write the verdicts as JSON documents: all of it in a worker
        thread, so that the event loop only moves bytes."""
        document = parse_body(body)
        check_sizes(document, limits)
        judged = verifier.verify(document, conventions=conventions)
        return judged, [v.to_json() for v in judged.verdicts]

    @app.post("/v1/verify", summary="verdicts for an implementation's results", responses=VERIFY_RESPONSES,
              openapi_extra=verify_request())
    async def verify(request: Request, conventions: str = Query(
            "any", description=CONVENTIONS_HELP, json_schema_extra={"enum": list(CONVENTIONS)})):
        authorize(request, settings.token)
        if conventions not in CONVENTIONS:
            raise HTTPException(422, f"conventions: {conventions[:40]!r} is not one of {', '.join(CONVENTIONS)}")
        body = await read_body(request, limits)
        judged, documents = await pool.run(judge, body, conventions, seconds=limits.request_seconds)
        headers = {"X-Refbp-Run": judged.run_id, "Location": f"/v1/runs/{judged.run_id}"} if judged.run_id else {}
        if judged.single:
            verdict = judged.verdicts[0]
            if verdict.error_kind == "input":
                return JSONResponse({"detail": verdict.errors[0]}, status_code=422)
            return JSONResponse(documents[0], headers=headers)
        return JSONResponse(documents, headers=headers)

    @app.get("/v1/runs", summary="the runs kept in the verdict store, newest first")
    def runs(implementation: str | None = None, limit: int = 50):
        if not 1 <= limit <= 1000:
            raise HTTPException(422, f"limit: {limit} is not between 1 and 1000")
        return json_rows(runs_frame(store(), implementation, limit))

    @app.get("/v1/runs/{run_id}", summary="one stored run and its rows (one per case x quantity x tensor x "
                                          "reference)")
    def run(run_id: str):
        try:
            row = run_row(store(), run_id)
        except KeyError:
            raise HTTPException(404, f"no run {run_id[:80]!r} in the verdict store") from None
        return {"run": row, "rows": json_rows(run_checks(store(), run_id))}

    @app.get("/v1/compare", summary="stored runs side by side, one row per case (?runs=ID,ID,...)")
    def compare(runs: str):
        try:
            return json_rows(compared_cases(runs, verifier))
        except ColumnError as exc:
            raise HTTPException(404, str(exc)) from None

    def store():
        if verifier.store is None:
            raise HTTPException(404, "the verdict store is off (REFBP_DATABASE_URL=none)")
        return verifier.store

    @app.get("/openapi.json", include_in_schema=False)
    def openapi_document():
        return openapi(app)

    add_pages(app, verifier, lambda: openapi(app))
    return app


def app_from_environment() -> FastAPI:
    """The app of a server process started by `refbp serve` (uvicorn's factory)."""
    return create_app(Settings.from_variable())


def authorize(request: Request, token: str) -> None:
    """Writes need `Authorization: Bearer <REFBP_TOKEN>` when a token is set; reads never do."""
    if not token:
        return
    given = request.headers.get("authorization", "")
    scheme, _, credential = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(credential.strip().encode(), token.encode()):
        raise HTTPException(401, "a bearer token is required to write (Authorization: Bearer <REFBP_TOKEN>)",
                            headers={"WWW-Authenticate": "Bearer"})


def openapi(app: FastAPI) -> dict:
    """FastAPI's document, with the formats' schemas as its components."""
    if app.openapi_schema is None:
        document = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        document.setdefault("components", {}).setdefault("schemas", {}).update(format_components())
        app.openapi_schema = document
    return app.openapi_schema


__all__ = ["app_from_environment", "create_app"]
