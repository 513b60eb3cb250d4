"""POST /v1/verify: a check slot first, then the body (spooled), then in the check thread the
parsing, the limits, the judging, and the recording, which happens only for an answer of 200,
only while the request still waits for it (pool.Deadline), and once per `Idempotency-Key`.

A store that cannot be written costs the run, never the verdict: the answer is 503 with a
reason, `"stored": false`, and the verdicts that a 200 would have carried (`answer`).

`checked` (a slot, the body, the work in a check thread) and `kept` / `not_stored` (the
recording and its failure) serve the grading route too (refbp.service.grading).
"""

from __future__ import annotations

import asyncio
import ctypes
import hashlib
import json
import logging
import re
import time
from functools import partial

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response

from refbp.check.states import ErrorKind
from refbp.store import KeyTaken, answered
from refbp.store.database import write_error_line

from .body import SPOOL_BYTES, BodyProblem, check_sizes, parse_body, read_body
from .deps import check_pool_of, settings_of, verifier_of, write_access
from .guards import require_json
from .openapi import VERIFY_RESPONSES, verify_request
from .pool import Busy, CheckPool, Deadline
from .settings import Limits, Settings
from .verifier import Verifier

LOG = logging.getLogger("refbp.service")
RETRY_SECONDS = 1
LANE_POLL_SECONDS = 0.05  # how often a large body waiting for its lane looks again
CONVENTIONS = ("any", "torch")
CONVENTIONS_HELP = (
    "which values pass where correct implementations may differ (docs/formats.md, 'Conventions'): "
    "any (default), every admissible convention; torch, only torch's own choices (relu'(0) = 0, "
    "BCELoss's backward)"
)
KEY = re.compile(r"[\x21-\x7e]{1,200}")
# The answer's JSON without the spaces after separators: a tenth smaller, and as quick to write.
COMPACT = (",", ":")
# A write that failed for a moment (a lock, a dropped connection) is tried once more after this.
RETRY_WRITE_SECONDS = 0.5

router = APIRouter()


def give_back_memory() -> None:
    """Return the freed heap of a large body's parse to the system (glibc keeps it otherwise, and a
    server's resident memory would stay at its largest burst)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


async def checked(request: Request, pool: CheckPool, limits: Limits, work) -> tuple[int, str, dict]:
    """(status, the answer's JSON text, headers) of `work(body, deadline)` in a check thread: the
    slot is taken before a byte of the body is read (Busy, 503, when none is free), the body read
    within the limits (413, 408), the work given `limits.request_seconds` (503 past it)."""
    declared = request.headers.get("content-length", "")
    lane = pool.large_lane if declared.isdigit() and int(declared) > SPOOL_BYTES else None
    if lane is not None:
        await large_turn(pool, lane, limits.body_seconds)
    handed, slot = False, None
    try:
        slot = pool.take()
        spooled = await read_body(request, limits)
        deadline, handed = Deadline(), True
        run = _in_thread if lane is None or pool.large_pace is None else pool.large_pace.metered(_in_thread)
        status, text, headers = await slot.run(
            run, work, spooled, deadline, lane, seconds=limits.request_seconds, deadline=deadline
        )
    finally:
        if slot is not None:
            slot.release()
        if lane is not None and not handed:
            lane.release()
    if status == 503 and not text:
        raise BodyProblem(
            503, f"the check did not finish within {limits.request_seconds:g} s", {"Retry-After": str(RETRY_SECONDS)}
        )
    return status, text, headers


async def large_turn(pool: CheckPool, lane, seconds: float) -> None:
    """The large-body lane, waited for with the body left unread (TCP holds the client back), then
    the large bodies' share of a core while other checks run (refbp.service.pace): a flood of large
    bodies waits its turn instead of being refused and retried at once, and never takes more than
    that share from the checks. Busy (503) when not within `seconds`."""
    deadline = time.monotonic() + seconds
    while not lane.acquire(blocking=False):
        if time.monotonic() > deadline:
            raise Busy("a large body is being checked already: try again later")
        await asyncio.sleep(LANE_POLL_SECONDS)
    if pool.large_pace is None:
        return
    try:
        await pool.large_pace.allowed(deadline - time.monotonic())
    except (TimeoutError, asyncio.TimeoutError):
        lane.release()
        raise Busy("large bodies have had their share of the server while checks run: try again later") from None
    except BaseException:
        lane.release()
        raise


def _in_thread(work, spooled, deadline: Deadline, lane):
    """Everything after the body arrived runs here, in a check thread, so that the event loop
    only moves bytes."""
    try:
        with spooled:
            body = spooled.read()
        return work(body, deadline)
    finally:
        if lane is not None:
            lane.release()
            give_back_memory()


def kept(keep, *args):
    """`keep(*args)`, tried once more after a moment when it fails (a lock or a connection may
    have failed for a moment); KeyTaken is an answer, not a failure."""
    try:
        return keep(*args)
    except KeyTaken:
        raise
    except Exception:
        time.sleep(RETRY_WRITE_SECONDS)
        return keep(*args)


def not_stored(exc: Exception, answer: str) -> tuple[int, str, dict]:
    """The 503 of an answer whose run could not be recorded: the reason, and the answer itself."""
    reason = write_error_line(exc)
    LOG.error("verdict store: a run was not recorded: %s", reason)
    return (
        503,
        json.dumps(
            {
                "detail": f"the verdict store cannot be written ({reason}); the verdicts below are not stored",
                "stored": False,
                "answer": json.loads(answer),
            }
        ),
        {"Retry-After": str(RETRY_SECONDS), "X-Refbp-Stored": "false"},
    )


def judge_body(verifier: Verifier, limits: Limits, conventions: str, key: str, body: bytes, deadline: Deadline):
    """(status, the answer's JSON text, headers) of one POST /v1/verify's body, in a check thread."""
    digest = hashlib.sha256(conventions.encode() + b"\n" + body).hexdigest()
    if key and verifier.store is not None and (first := answered(verifier.store, key)) is not None:
        return replay(first, digest)
    document = parse_body(body)
    del body
    check_sizes(document, limits)
    judged = verifier.verify(document, conventions=conventions)
    documents = [v.to_json() for v in judged.verdicts]
    if judged.single and judged.verdicts[0].error_kind == ErrorKind.INPUT:
        return 422, json.dumps({"detail": judged.verdicts[0].errors[0]}), {}
    answer = json.dumps(documents[0] if judged.single else documents, separators=COMPACT)
    if not deadline.commit():
        return 503, "", {}  # answered already (past its time): nothing is recorded
    try:
        run_id = kept(verifier.keep, judged, key, digest, answer)
    except KeyTaken as taken:
        return replay(taken.answered, digest)
    except Exception as exc:  # the store cannot be written: the verdict is still the client's
        return not_stored(exc, answer)
    headers = {"X-Refbp-Run": run_id, "Location": f"/v1/runs/{run_id}"} if run_id else {}
    return 200, answer, headers


def replay(first, digest: str):
    if first.request_digest != digest:
        return 422, json.dumps({"detail": "Idempotency-Key: already used with another request"}), {}
    return (
        200,
        first.answer,
        {"X-Refbp-Run": first.run_id, "Location": f"/v1/runs/{first.run_id}", "Idempotent-Replayed": "true"},
    )


@router.post(
    "/v1/verify",
    summary="verdicts for an implementation's results",
    responses=VERIFY_RESPONSES,
    openapi_extra=verify_request(),
    dependencies=[Depends(write_access)],
)
async def verify(
    request: Request,
    conventions: str = Query("any", description=CONVENTIONS_HELP, json_schema_extra={"enum": list(CONVENTIONS)}),
    verifier: Verifier = Depends(verifier_of),
    settings: Settings = Depends(settings_of),
    pool: CheckPool = Depends(check_pool_of),
):
    require_json(request)  # called, not a dependency: nothing to swap, and each dependency costs the hot path
    if conventions not in CONVENTIONS:
        raise HTTPException(422, f"conventions: {conventions[:40]!r} is not one of {', '.join(CONVENTIONS)}")
    key = request.headers.get("idempotency-key", "")
    if key and not KEY.fullmatch(key):
        raise HTTPException(422, "Idempotency-Key: 1 to 200 visible ASCII characters")
    work = partial(judge_body, verifier, settings.limits, conventions, key)
    status, text, headers = await checked(request, pool, settings.limits, work)
    return Response(text, status_code=status, headers=headers, media_type="application/json")
