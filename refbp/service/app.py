"""The HTTP API of the verification service (FastAPI): health and readiness, cases, schemas,
verify, runs and compare (refbp.service.reads, verify_route), under the limits of settings.py
and the guards of guards.py. The pages people read are refbp.service.pages.

Every route only calls library functions: the judging (refbp.check.verify through
Verifier), the store (refbp.store), the comparison (refbp.compare). A bad request gets a
one-line `detail` and a status that says what was wrong; the server goes on serving.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse

from refbp.cases import CaseError
from refbp import __version__

from .body import BodyProblem, ClientGone
from .guards import HostAllowList
from .openapi import format_components, one_line_errors
from .pages import add_pages
from .pool import Busy, CheckPool, CheckTimeout
from .reads import add_reads
from .settings import Settings
from .verifier import Verifier
from .verify_route import RETRY_SECONDS, add_verify

LOG = logging.getLogger("refbp.service")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_environment()
    limits = settings.limits
    verifier = Verifier(settings.case_paths, settings.database, settings.executor)
    pool = CheckPool(limits.threads, limits.queue)
    reads = CheckPool(limits.read_threads, limits.read_queue, name="refbp-read", yielding=True)
    app = FastAPI(title="refbp verification service", version=__version__, docs_url=None, redoc_url=None, openapi_url=None,
                  description="Judge an implementation's results against refbp's suite (torch autograd in "
                              "float64, finite differences, published values); read the runs kept in the "
                              "verdict store. The bodies are the formats of docs/formats.md; the limits, "
                              "tokens and answers are docs/service.md's.")
    app.state.verifier, app.state.settings, app.state.pool = verifier, settings, pool
    app.router.on_shutdown.extend([pool.close, reads.close])
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type", "Idempotency-Key"])
    if settings.allowed_hosts:
        app.add_middleware(HostAllowList, hosts=settings.allowed_hosts)
    add_handlers(app)
    add_reads(app, verifier, settings, reads)
    add_verify(app, verifier, settings, pool)

    @app.get("/openapi.json", include_in_schema=False)
    def openapi_document():
        return openapi(app)

    add_pages(app, verifier, settings, reads, lambda: openapi(app))
    return app


def add_handlers(app: FastAPI) -> None:
    @app.exception_handler(BodyProblem)
    async def body_problem(_request, exc: BodyProblem):
        return JSONResponse({"detail": str(exc)}, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(CaseError)
    async def not_of_the_formats(_request, exc: CaseError):
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(RequestValidationError)
    async def invalid_parameter(_request, exc: RequestValidationError):
        return JSONResponse({"detail": validation_line(exc)}, status_code=422)

    @app.exception_handler(Busy)
    @app.exception_handler(CheckTimeout)
    async def busy(_request, exc):
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": str(RETRY_SECONDS)})

    @app.exception_handler(ClientGone)
    async def client_gone(request, exc: ClientGone):  # one line, no traceback: it is the client's doing
        LOG.warning("%s %s: %s", request.method, request.url.path, exc)
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.exception_handler(Exception)
    async def crashed(_request, exc):  # a bug of the service: logged, answered, and the server goes on
        LOG.exception("unhandled error")
        return JSONResponse({"detail": f"internal error: {type(exc).__name__}"}, status_code=500)


def validation_line(exc: RequestValidationError) -> str:
    """FastAPI's validation errors as the one line every error answer has: `query limit: ...`."""
    parts = []
    for error in exc.errors()[:3]:
        where = " ".join(str(part) for part in error.get("loc", ()))
        parts.append(f"{where}: {error.get('msg', 'not valid')}".encode("ascii", "backslashreplace").decode())
    return "; ".join(parts)[:300] or "a parameter is not valid"


def app_from_environment() -> FastAPI:
    """The app of a server process started by `refbp serve` (uvicorn's factory). A worker of a
    supervisor (--workers N) dies with it (refbp.service.lifeline)."""
    from .lifeline import follow_parent

    follow_parent()
    return create_app(Settings.from_variable())


def openapi(app: FastAPI) -> dict:
    """FastAPI's document, with the formats' schemas as its components and its errors as answered."""
    if app.openapi_schema is None:
        document = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        document.setdefault("components", {}).setdefault("schemas", {}).update(format_components())
        app.openapi_schema = one_line_errors(document)
    return app.openapi_schema


__all__ = ["app_from_environment", "create_app"]
