"""Who may ask what: the Host allow-list (against DNS rebinding), the tokens of writes and of
reads, and the JSON-only content type of writes (a web page cannot send one without CORS's
consent, so it cannot write runs: CSRF).

Writes need `Authorization: Bearer <REFBP_TOKEN>` when a token is set. Reads need a token only
where the deployment says so (`reads_need_token`: `refbp serve` bound beyond loopback): the
read token or the write token, as a bearer token or as the password of HTTP Basic (so that a
browser asks for it on the pages).
"""

from __future__ import annotations

import base64
import binascii
import hmac

from fastapi import HTTPException, Request
from starlette.responses import JSONResponse

JSON_TYPES = ("application/json",)


def _matches(given: str, token: str) -> bool:
    return bool(token) and hmac.compare_digest(given.encode("utf-8", "replace"), token.encode())


def credential(request: Request) -> str:
    """The token a request carries: a bearer token, or the password of HTTP Basic."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")[2]
        except (binascii.Error, UnicodeDecodeError):
            return ""
    return ""


def authorize_write(request: Request, settings) -> None:
    if settings.token and not _matches(credential(request), settings.token):
        raise HTTPException(
            401,
            "a bearer token is required to write (Authorization: Bearer <REFBP_TOKEN>)",
            headers={"WWW-Authenticate": "Bearer"},
        )


def authorize_read(request: Request, settings) -> None:
    if not settings.reads_need_token:
        return
    given = credential(request)
    if not (_matches(given, settings.read_token) or _matches(given, settings.token)):
        raise HTTPException(
            401,
            "a token is required to read (Authorization: Bearer <REFBP_READ_TOKEN>, or "
            "HTTP Basic with it as the password)",
            headers={"WWW-Authenticate": 'Basic realm="refbp", charset="UTF-8"'},
        )


def require_json(request: Request) -> None:
    """415 unless the body is declared JSON: text/plain and form posts (what a page may send
    anywhere without asking) are refused."""
    declared = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if declared not in JSON_TYPES and not (declared.startswith("application/") and declared.endswith("+json")):
        raise HTTPException(415, f"Content-Type: {declared[:60] or 'none'!s} is not application/json")


def host_of(header: str) -> str:
    """The host of a Host header, without its port: `[::1]:8000` -> `::1`, `Example.org:80` -> `example.org`."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rpartition(":")[0] if header.count(":") == 1 else header


class HostAllowList:
    """ASGI middleware: a request whose Host is not allowed gets 400 before any route sees it."""

    def __init__(self, app, hosts):
        self.app, self.hosts = app, {h.strip().lower().strip("[]") for h in hosts}

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and self.hosts:
            host = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
            if host_of(host) not in self.hosts:
                answer = JSONResponse(
                    {"detail": "Host: not one this server answers to (--allowed-host)"}, status_code=400
                )
                return await answer(scope, receive, send)
        return await self.app(scope, receive, send)
