"""Reading a request's body within the service's limits: its size (413), its JSON (400 with
the line) and the sizes inside it (422 naming the field). Nothing in a body is executed or
unpickled: it is parsed as JSON, strictly, and nothing else.
"""

from __future__ import annotations

from cases.jsonio import CaseError, parse_json

from .settings import Limits

BODY = "request body"
# A body refused for its size is still read (and thrown away) up to this many bytes, so that
# the client, still sending, gets the 413 rather than a reset connection; past it the
# connection is closed.
DRAIN_BYTES = 256 << 20


class BodyProblem(ValueError):
    """A body the service refuses: the HTTP status and one line saying why."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


async def read_body(request, limits: Limits) -> bytes:
    """The body, or BodyProblem(413) past `max_body_bytes` (told by Content-Length, or counted)."""
    limit = limits.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        await _drain(request, int(declared))
        raise BodyProblem(413, f"{BODY}: {int(declared)} bytes, more than the limit of {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            await _drain(request, DRAIN_BYTES)
            raise BodyProblem(413, f"{BODY}: more than the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _drain(request, declared: int) -> None:
    if declared > DRAIN_BYTES:
        return
    seen = 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > DRAIN_BYTES:
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
    """BodyProblem(422) naming the field of the first bundle, parameter table or answer over its limit."""
    if not isinstance(document, dict):
        return
    results = document.get("results")
    if isinstance(results, list):
        if len(results) > limits.max_results:
            raise BodyProblem(422, f"{BODY}: results: {len(results)} results, more than the limit of "
                                   f"{limits.max_results} in one bundle")
        for i, result in enumerate(results):
            _check_result(result, f"results[{i}].", limits)
    else:
        _check_result(document, "", limits)


def _check_result(result, where: str, limits: Limits) -> None:
    if not isinstance(result, dict):
        return
    for key in ("outputs", "loss", "loss_after"):
        _check_answer(result.get(key), f"{where}{key}", limits)
    for key in ("grads", "params_after"):
        tensors = result.get(key)
        if not isinstance(tensors, dict):
            continue
        if len(tensors) > limits.max_parameters:
            raise BodyProblem(422, f"{BODY}: {where}{key}: {len(tensors)} tensors, more than the limit of "
                                   f"{limits.max_parameters} parameters per case")
        for name, value in tensors.items():
            _check_answer(value, f"{where}{key}.{name}", limits)


def _check_answer(value, field: str, limits: Limits) -> None:
    count = _count_numbers(value, limits.max_entries)
    if count > limits.max_entries:
        raise BodyProblem(422, f"{BODY}: {field}: more than the limit of {limits.max_entries} numbers in one array")


def _count_numbers(value, stop: int) -> int:
    """The numbers in nested lists (stops counting past `stop`); the nesting is already bounded."""
    if not isinstance(value, list):
        return 1
    pending, count = [value], 0
    while pending and count <= stop:
        items = pending.pop()
        for item in items:
            if isinstance(item, list):
                pending.append(item)
            else:
                count += 1
    return count
