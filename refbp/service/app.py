"""The HTTP API of the verification service (FastAPI), one router per area: health and
readiness (health.py), cases and schemas (catalog.py), verify (verify_route.py), runs and
compare (reads.py), the pages people read (pages.py) and, when the server has assignments,
grading (grading.py). The limits are settings.py's, the guards guards.py's.

What a route needs (the settings, the verifier with the suite and the store, the pools, the
tokens) it is given as a dependency (deps.py): `create_app` puts them on `app.state`, and a
test swaps one with `app.dependency_overrides`. Every route only calls library functions: the
judging (refbp.check.verify through Verifier), the grading (refbp.grade), the store
(refbp.store), the comparison (refbp.compare). A bad request gets a one-line `detail` and a
status that says what was wrong; the server goes on serving.
"""

from __future__ import annotations

import gc
import logging

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse

from refbp import __version__
from refbp.cases import CaseError

from . import catalog, health, pages, reads, verify_route
from .body import BodyProblem, ClientGone
from .guards import HostAllowList
from .openapi import openapi_document
from .pace import LARGE_BODY_SHARE, CpuShare
from .pool import Busy, CheckPool, CheckTimeout
from .settings import Settings
from .verifier import Verifier
from .verify_route import RETRY_SECONDS

LOG = logging.getLogger("refbp.service")
DESCRIPTION = (
    "Judge an implementation's results against refbp's suite (torch autograd in float64, finite "
    "differences, published values); read the runs kept in the verdict store. The bodies are the "
    "formats of docs/formats.md; the limits, tokens and answers are docs/service.md's."
)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_environment()
    limits = settings.limits
    verifier = Verifier(settings.case_paths, settings.database, settings.executor)
    pool = CheckPool(limits.threads, limits.queue)
    reads_pool = CheckPool(limits.read_threads, limits.read_queue, name="refbp-read", yielding=True)
    reads_pool.pace = CpuShare(busy=lambda: pool.taken > 0)
    pool.large_pace = CpuShare(busy=lambda: pool.taken > 0, share=LARGE_BODY_SHARE)
    app = FastAPI(
        title="refbp verification service",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        description=DESCRIPTION,
    )
    # What the dependencies hand to the routes (refbp.service.deps).
    app.state.verifier, app.state.settings, app.state.pool, app.state.reads = verifier, settings, pool, reads_pool
    app.router.on_shutdown.extend([pool.close, reads_pool.close])
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
        )
    if settings.allowed_hosts:
        app.add_middleware(HostAllowList, hosts=settings.allowed_hosts)
    add_handlers(app)
    # POST /v1/verify first: routes are matched in order, and it is the route under load.
    for area in (verify_route, health, catalog, reads):
        app.include_router(area.router)
    if settings.assignments:
        from . import grading

        app.state.assignments = grading.load_assignments(settings, verifier.store is not None)
        app.include_router(grading.router)
        app.include_router(grading.pages)

    @app.get("/openapi.json", include_in_schema=False)
    def openapi_json():
        return openapi_document(app)

    app.include_router(pages.router)
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
        LOG.error("unhandled error", exc_info=exc)
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
    app = create_app(Settings.from_variable())
    # Everything loaded so far (the suite, torch, the references' warm-up: some 300,000 objects)
    # lives as long as the server: a full collection would walk it all, holding the GIL for
    # 100-300 ms, a pause every request in flight would wait out. Frozen, collections skip it.
    gc.freeze()
    return app


def openapi(app: FastAPI) -> dict:
    """The OpenAPI document of `app` (refbp.service.openapi.openapi_document)."""
    return openapi_document(app)


__all__ = ["app_from_environment", "create_app", "openapi"]
