"""Liveness and readiness: `/healthz` answers while the process runs (no store access: restart
by it), `/readyz` commits a no-op write to the store (route traffic by it)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from refbp.store import write_problem

from .deps import read_pool_of, settings_of, verifier_of
from .pool import CheckPool
from .settings import Settings
from .verifier import Verifier

router = APIRouter()


@router.get("/healthz", summary="liveness: the process answers (no store access)")
async def healthz(verifier: Verifier = Depends(verifier_of)):
    return {"status": "ok", "cases": len(verifier.suite), "store": verifier.store is not None}


@router.get(
    "/readyz",
    summary="readiness: the verdict store can be written now",
    responses={503: {"description": "the store cannot be written (the reason named)"}},
)
async def readyz(
    verifier: Verifier = Depends(verifier_of),
    reads: CheckPool = Depends(read_pool_of),
    settings: Settings = Depends(settings_of),
):
    store = verifier.store
    problem = (
        None
        if store is None
        else await reads.run(write_problem, store, seconds=settings.limits.read_seconds, paced=False)
    )  # a probe is never held behind a flood of reads
    if problem is not None:
        return JSONResponse(
            {"status": "not ready", "detail": f"the verdict store cannot be written: {problem}"},
            status_code=503,
            headers={"Retry-After": "5"},
        )
    return {"status": "ready", "store": store is not None}
