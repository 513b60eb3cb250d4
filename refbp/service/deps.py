"""What the routes are given (FastAPI's `Depends`): the settings, the verifier (the suite and the
verdict store), the store itself, the check and read pools, the tokens, and who may read or
write. `create_app` puts the real ones on `app.state`; a test swaps any one of them with
`app.dependency_overrides[verifier_of] = ...` (tests/test_service_dependencies.py), never by
patching a module.

Every provider is `async def`: FastAPI runs a plain `def` dependency in a thread of its own
pool, which costs a thread hop on every request for what is an attribute read.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Depends, HTTPException, Request

from refbp.store import Store

from .guards import authorize_read, authorize_write
from .pool import CheckPool
from .settings import Settings
from .verifier import Verifier

STORE_OFF = "the verdict store is off (REFBP_DATABASE_URL=none)"


@dataclass(frozen=True)
class Tokens:
    """Who may write and who may read: the write token, the read token, and whether reads need one."""

    token: str = ""
    read_token: str = ""
    reads_need_token: bool = False


async def settings_of(request: Request) -> Settings:
    return request.app.state.settings


async def verifier_of(request: Request) -> Verifier:
    return request.app.state.verifier


async def check_pool_of(request: Request) -> CheckPool:
    return request.app.state.pool


async def read_pool_of(request: Request) -> CheckPool:
    return request.app.state.reads


async def tokens_of(settings: Settings = Depends(settings_of)) -> Tokens:
    # A server with graded assignments keeps their expected values to itself: its runs and pages
    # show them, so reading them needs a token wherever it is bound.
    return Tokens(settings.token, settings.read_token, settings.reads_need_token or bool(settings.assignments))


async def store_of(verifier: Verifier = Depends(verifier_of)) -> Store:
    """The open verdict store; 404 when the server records nothing."""
    if verifier.store is None:
        raise HTTPException(404, STORE_OFF)
    return verifier.store


async def read_access(request: Request, tokens: Tokens = Depends(tokens_of)) -> None:
    """401 unless the request may read (a token where the deployment needs one)."""
    authorize_read(request, tokens)


async def write_access(request: Request, tokens: Tokens = Depends(tokens_of)) -> None:
    """401 unless the request carries the write token (when one is set)."""
    authorize_write(request, tokens)
