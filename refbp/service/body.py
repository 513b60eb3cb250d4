"""Reading a request's body within the service's limits, before any work: its size (413, while
it streams, and before `100 Continue` is ever sent), its time (408), its JSON (400 with the
line) and the sizes inside it (422 naming the field: the numbers of a result, every array
counted; the length and the Unicode of every string and name). Nothing in a body is
executed or unpickled: it is parsed as JSON, strictly, and nothing else.

A body larger than SPOOL_BYTES waits for its check thread on disk, not in memory.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections import deque
from typing import Any

from refbp.cases.jsonio import CaseError, parse_json

from .settings import Limits

BODY = "request body"
# A body refused for its size is still read (and thrown away) up to this many bytes, so that
# the client, still sending, gets the 413 rather than a reset connection; past it the
# connection is closed. A client that asked `Expect: 100-continue` sent nothing yet: it gets
# the 413 at once.
DRAIN_BYTES = 256 << 20
SPOOL_BYTES = 1 << 20
CLOSE = {"Connection": "close"}


class BodyProblem(ValueError):
    """A body the service refuses: the HTTP status and one line saying why."""

    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.headers = status, headers


class ClientGone(ConnectionError):
    """The client closed its connection before its body was read (logged in one line)."""


async def read_body(request, limits: Limits):
    """The body in a spooled file (in memory up to SPOOL_BYTES), or BodyProblem: 413 past
    `max_body_bytes` (told by Content-Length, or counted as it streams), 408 past `body_seconds`."""
    limit = limits.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        if request.headers.get("expect", "").lower() != "100-continue":
            await _drain(request, int(declared))
        raise BodyProblem(413, f"{BODY}: {int(declared)} bytes, more than the limit of {limit} bytes", CLOSE)
    # Handed to the caller open (it reads it in a check thread, and closes it there).
    spooled = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115
    try:
        await asyncio.wait_for(_copy(request, spooled, limit), limits.body_seconds)
    except asyncio.TimeoutError:
        spooled.close()
        raise BodyProblem(408, f"{BODY}: not received within {limits.body_seconds:g} s", CLOSE) from None
    except BaseException:
        spooled.close()
        raise
    spooled.seek(0)
    return spooled


async def _copy(request, spooled, limit: int) -> None:
    from starlette.requests import ClientDisconnect

    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                await _drain(request, DRAIN_BYTES)
                raise BodyProblem(413, f"{BODY}: more than the limit of {limit} bytes", CLOSE)
            spooled.write(chunk)
    except ClientDisconnect:
        raise ClientGone(f"the client closed the connection after {size} bytes of its body") from None


async def _drain(request, declared: int) -> None:
    if declared > DRAIN_BYTES:
        return
    seen = 0
    try:
        async for chunk in request.stream():
            seen += len(chunk)
            if seen > DRAIN_BYTES:
                return
    except Exception:  # the client went away, or the body was already read: nothing left to drain
        return


def parse_body(body: bytes):
    """The body as JSON (NaN and infinities allowed: in a result they are wrong answers, judged
    as failed checks); BodyProblem(400) naming the line of malformed JSON."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyProblem(400, f"{BODY}: not UTF-8 at byte {exc.start}") from None
    if not text.strip():
        raise BodyProblem(400, f"{BODY}: empty (a refbp-result/1 or refbp-results/1 JSON document is expected)")
    try:
        return parse_json(text, BODY, allow_non_finite=True)
    except CaseError as exc:
        raise BodyProblem(400, str(exc)) from None


def check_sizes(document, limits: Limits) -> None:
    """BodyProblem(422) naming the first field over its limit: a bundle's results, a result's
    tensors (grads, params_after, intermediates, error_signals), the numbers of one result (every
    array in it counted), a string or a name too long, not Unicode (a lone surrogate) or with NUL."""
    if not isinstance(document, dict):
        return
    results = document.get("results")
    if isinstance(results, list):
        if len(results) > limits.max_results:
            raise BodyProblem(
                422,
                f"{BODY}: results: {len(results)} results, more than the limit of {limits.max_results} in one bundle",
            )
        _check_tree({k: v for k, v in document.items() if k != "results"}, "", limits)
        for i, result in enumerate(results):
            _check_tree(result, f"results[{i}].", limits)
    else:
        _check_tree(document, "", limits)


def _check_tree(result, where: str, limits: Limits) -> None:
    """One result (or a bundle's own fields): every value walked once, in the document's order
    (the field named is the one where the count passed the limit), without recursion."""
    if isinstance(result, dict):
        for key, tensors in result.items():
            if isinstance(tensors, dict) and len(tensors) > limits.max_parameters:
                raise BodyProblem(
                    422,
                    f"{BODY}: {where}{_shown(key)}: {len(tensors)} tensors, more than the "
                    f"limit of {limits.max_parameters} parameters per case",
                )
    numbers, pending = 0, deque([(result, where.rstrip("."))])
    while pending:
        value, field = pending.popleft()
        if isinstance(value, dict):
            for key, item in value.items():
                inner = f"{field}.{_shown(key)}" if field else _shown(key)
                _check_string(key, f"{inner} (the name)", limits)
                pending.append((item, inner))
        elif isinstance(value, list):
            nested: list[list[Any]] = [value]  # a nested list counted whole before the next field
            while nested:
                for item in nested.pop():
                    if isinstance(item, list):
                        nested.append(item)
                    elif isinstance(item, dict):
                        pending.append((item, field))
                    elif isinstance(item, str):
                        _check_string(item, field, limits)
                    else:
                        numbers += 1
                if numbers > limits.max_entries:
                    raise BodyProblem(
                        422,
                        f"{BODY}: {field}: more than the limit of {limits.max_entries} numbers "
                        "in one result (every array counted)",
                    )
        elif isinstance(value, str):
            _check_string(value, field, limits)


def _check_string(text: str, field: str, limits: Limits) -> None:
    if len(text) > limits.max_string:
        raise BodyProblem(422, f"{BODY}: {field}: {len(text)} characters, more than the limit of {limits.max_string}")
    if text.isascii():
        if "\x00" in text:
            raise BodyProblem(422, f"{BODY}: {field}: a NUL character")
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BodyProblem(422, f"{BODY}: {field}: not valid Unicode (a lone surrogate)") from None


def _shown(name) -> str:
    """A name as a message may show it: at most 60 characters, ASCII (a surrogate escaped)."""
    return str(name)[:60].encode("ascii", "backslashreplace").decode("ascii")
