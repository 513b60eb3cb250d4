"""Graded assignments in the service: a student POSTs results and gets points and feedback,
never the expected values; the teacher reads every submission as a table, a CSV and a page.

    POST /v1/assignments/{name}/submissions        a student's token (Bearer); a result document
    GET  /v1/assignments/{name}/submissions        the teacher's table (?format=csv, ?limit=, ?before=)
    GET  /v1/assignments/{name}/submissions.csv    the same as CSV
    GET  /assignments/{name}                       the same as a page

The grading is refbp.grade's (grade_document, student_view); a submission is a run in the
verdict store with its grade (refbp.grade.submissions), recorded only for an answer of 200, in
one transaction. A server with assignments needs REFBP_TOKEN, and its reads need a token
(refbp.service.deps.tokens_of): its runs and its /v1/verify answers hold reference values.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from collections import deque
from dataclasses import dataclass
from functools import partial

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from refbp.check.states import ErrorKind
from refbp.check.verify import warm_up
from refbp.grade.assignment import Assignment, grade_document, load_assignment, student_view
from refbp.grade.rubric import RubricError
from refbp.grade.submissions import submission_environment, submission_run, submissions, submissions_csv
from refbp.grade.submit import GradeError
from refbp.report.page import Page, Section, html
from refbp.store import RunRecord, Store, record_run

from .assignment_tokens import AssignmentError, configuration_problem
from .body import check_sizes, parse_body
from .deps import check_pool_of, read_access, read_pool_of, settings_of, store_of, verifier_of
from .guards import credential, require_json
from .openapi import GRADING_RESPONSES, TABLE_RESPONSES, grading_request
from .pool import CheckPool, Deadline
from .settings import Settings
from .verifier import Verifier
from .verify_route import checked, kept, not_stored

WINDOW_SECONDS = 60.0
router = APIRouter()
pages = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class Student:
    assignment: str
    name: str


class RateLimit:
    """At most `per_minute` takes per key in any 60 seconds (a sliding window)."""

    def __init__(self, per_minute: int):
        self.per_minute, self.lock = per_minute, threading.Lock()
        self.taken: dict[str, deque[float]] = {}

    def wait(self, key) -> float:
        """0 when a take is granted (and counted); else the seconds until one would be."""
        now = time.monotonic()
        with self.lock:
            times = self.taken.setdefault(key, deque())
            while times and now - times[0] >= WINDOW_SECONDS:
                times.popleft()
            if len(times) >= self.per_minute:
                return WINDOW_SECONDS - (now - times[0])
            times.append(now)
            return 0.0


class Assignments:
    """The server's assignments by name, whose student each token is, and their rate limit."""

    def __init__(self, assignments: dict[str, Assignment], students: dict[bytes, Student], per_minute: int):
        self.by_name, self.students, self.limit = assignments, students, RateLimit(per_minute)

    def get(self, name: str) -> Assignment:
        if name not in self.by_name:
            raise HTTPException(
                404,
                f"no assignment {name[:64].encode('ascii', 'backslashreplace').decode()!r} "
                f"(this server has: {', '.join(sorted(self.by_name))})",
            )
        return self.by_name[name]


def _digest(token: str) -> bytes:
    # Tokens are looked up by their digest: a dict's lookup by the token itself would take longer
    # the more of it matches, a digest's tells nothing about the token.
    return hashlib.sha256(token.encode("utf-8", "replace")).digest()


def load_assignments(settings: Settings, store_on: bool, warm: bool = True) -> Assignments:
    """Every assignment's rubric and cases, and its students' tokens; AssignmentError (one line)
    when the configuration cannot be served."""
    names = [name for name, _ in settings.assignments]
    problem = configuration_problem(names, settings.assignment_tokens, settings.token, settings.read_token, store_on)
    if problem:
        raise AssignmentError(problem)
    loaded = {}
    for name, path in settings.assignments:
        try:
            loaded[name] = load_assignment(name, path)
        except (RubricError, GradeError) as exc:
            raise AssignmentError(f"--assignment {name}: {exc}") from None
    students = {
        _digest(token): Student(assignment, student) for assignment, student, token in settings.assignment_tokens
    }
    for assignment in loaded.values():
        if warm:
            warm_up(assignment.suite)  # the first submission costs what the others do
    return Assignments(loaded, students, settings.limits.submissions_per_minute)


async def assignments_of(request: Request) -> Assignments:
    return request.app.state.assignments


async def student_of(name: str, request: Request, assignments: Assignments = Depends(assignments_of)) -> Student:
    """The student whose token the request carries: 404 for no such assignment, 401 without a
    student's token, 403 with another assignment's, 415 for a body not JSON, 429 past the rate."""
    assignments.get(name)
    key = _digest(credential(request))
    student = assignments.students.get(key)
    if student is None:
        raise HTTPException(
            401,
            "a student's token of this assignment is required (Authorization: Bearer <token>)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if student.assignment != name:
        raise HTTPException(403, "this token is for another assignment")
    require_json(request)
    wait = assignments.limit.wait(key)
    if wait:
        raise HTTPException(
            429,
            f"more than {assignments.limit.per_minute} submissions in a minute: try again in {math.ceil(wait)} s",
            headers={"Retry-After": str(math.ceil(wait))},
        )
    return student


def grade_body(
    assignment: Assignment, student: Student, verifier: Verifier, settings: Settings, body: bytes, deadline: Deadline
):
    """(status, JSON text, headers) of one submission's body, in a check thread."""
    document = parse_body(body)
    del body
    check_sizes(document, settings.limits)
    grade, run = grade_document(document, assignment, executor=verifier.executor)
    if run.verdicts and all(v.error_kind == ErrorKind.INPUT for v in run.verdicts):
        return 422, json.dumps({"detail": run.verdicts[0].errors[0]}), {}
    view = {"assignment": assignment.name, "student": student.name, **student_view(grade)}
    if not deadline.commit():
        return 503, "", {}  # answered already (past its time): nothing is recorded
    environment = submission_environment(verifier.environment, assignment.name, student.name, grade, run.implementation)
    record = RunRecord("verify", environment=environment)
    try:
        run_id = kept(record_run, verifier.store, submission_run(run, assignment.name, student.name), record)
    except Exception as exc:  # the store cannot be written: the grade is still the student's
        return not_stored(exc, json.dumps(view))
    return 200, json.dumps({"submission": run_id, **view}), {"X-Refbp-Submission": run_id}


@router.post(
    "/v1/assignments/{name}/submissions",
    summary="grade a student's results: points and feedback, never the expected values",
    responses=GRADING_RESPONSES,
    openapi_extra=grading_request(),
)
async def submit(
    request: Request,
    name: str,
    student: Student = Depends(student_of),
    assignments: Assignments = Depends(assignments_of),
    verifier: Verifier = Depends(verifier_of),
    settings: Settings = Depends(settings_of),
    pool: CheckPool = Depends(check_pool_of),
):
    work = partial(grade_body, assignments.get(name), student, verifier, settings)
    status, text, headers = await checked(request, pool, settings.limits, work)
    return Response(text, status_code=status, headers=headers, media_type="application/json")


async def _table(
    name: str,
    limit: int,
    before: str | None,
    assignments: Assignments,
    store: Store,
    reads: CheckPool,
    settings: Settings,
):
    assignments.get(name)
    return await reads.run(submissions, store, name, limit, before, seconds=settings.limits.read_seconds)


def _csv(frame) -> Response:
    return Response(submissions_csv(frame), media_type="text/csv; charset=utf-8")


@router.get(
    "/v1/assignments/{name}/submissions",
    summary="every submission, newest first: the teacher's table (?format=csv; a page: ?limit=, ?before=ID)",
    responses=TABLE_RESPONSES,
    dependencies=[Depends(read_access)],
)
async def table(
    name: str,
    format_: str = Query("json", alias="format", pattern="^(json|csv)$"),
    limit: int = Query(1000, ge=1, le=10_000),
    before: str | None = Query(None, max_length=32),
    assignments: Assignments = Depends(assignments_of),
    store: Store = Depends(store_of),
    reads: CheckPool = Depends(read_pool_of),
    settings: Settings = Depends(settings_of),
):
    frame, following = await _table(name, limit, before, assignments, store, reads, settings)
    if format_ == "csv":
        return _csv(frame)
    rows = json.loads(frame.to_json(orient="records"))  # NaN as null, numbers as JSON numbers
    after = f"/v1/assignments/{name}/submissions?limit={limit}&before={following}" if following else None
    return {"assignment": name, "submissions": rows, "next": after}


@router.get(
    "/v1/assignments/{name}/submissions.csv",
    summary="every submission, newest first, as CSV",
    responses=TABLE_RESPONSES,
    dependencies=[Depends(read_access)],
)
async def table_csv(
    name: str,
    limit: int = Query(1000, ge=1, le=10_000),
    before: str | None = Query(None, max_length=32),
    assignments: Assignments = Depends(assignments_of),
    store: Store = Depends(store_of),
    reads: CheckPool = Depends(read_pool_of),
    settings: Settings = Depends(settings_of),
):
    frame, _ = await _table(name, limit, before, assignments, store, reads, settings)
    return _csv(frame)


@pages.get("/assignments/{name}", response_class=HTMLResponse, dependencies=[Depends(read_access)])
async def table_page(
    name: str,
    assignments: Assignments = Depends(assignments_of),
    store: Store = Depends(store_of),
    reads: CheckPool = Depends(read_pool_of),
    settings: Settings = Depends(settings_of),
    verifier: Verifier = Depends(verifier_of),
):
    assignment = assignments.get(name)
    return HTMLResponse(
        await reads.run(_page_html, assignment, store, verifier.environment, seconds=settings.limits.read_seconds)
    )


def _page_html(assignment: Assignment, store: Store, environment: dict) -> str:
    """The teacher's page: the newest 1,000 submissions, each a link to its run (every row judged)."""
    frame, _ = submissions(store, assignment.name, 1000)
    name = assignment.name
    lines = [
        f"{assignment.rubric.title}: {len(frame)} submission(s), newest first (at most 1,000 here; "
        f"/v1/assignments/{name}/submissions pages through all). Each links to its run: every row judged.",
        f"CSV: /v1/assignments/{name}/submissions.csv",
    ]
    section = Section("Submissions", table=frame, links={"submission": "/runs/{}"})
    nav = [("/", "Runs"), (f"/v1/assignments/{name}/submissions.csv", "CSV")]
    return html(Page(f"refbp: {name}", lines, [section], environment, nav=nav))
