"""The settings of the verification service (`refbp serve`): its limits, its worker pools,
its store, its tokens, its hosts and its CORS origins, with the environment variables that
set them (docs/service.md).

Every limit has a clear answer (docs/formats.md, "The verification service"): a body over
`max_body_bytes` is 413; a bundle, a tensor or a parameter table over its limit is 422
naming the field; a full worker queue is 503 with Retry-After; a check past
`request_seconds` is 503 as well.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field

from .assignment_tokens import read_tokens

TOKEN_VARIABLE = "REFBP_TOKEN"  # writes (and reads) with it
READ_TOKEN_VARIABLE = "REFBP_READ_TOKEN"  # reads with it, where reads need a token
CORS_VARIABLE = "REFBP_CORS_ORIGINS"
# How `refbp serve` hands its settings to the server processes uvicorn starts (JSON).
SETTINGS_VARIABLE = "REFBP_SERVE_SETTINGS"
MIB = 1 << 20


@dataclass(frozen=True)
class Limits:
    # A body over this many bytes is refused (413) before it is parsed: the largest result of
    # the suite is a few kB, and a bundle of every case's result well under 1 MiB.
    max_body_bytes: int = 8 * MIB
    max_results: int = 256  # results in one refbp-results/1 bundle
    max_parameters: int = 64  # tensors in one result's grads or params_after
    max_entries: int = 1_000_000  # numbers in one result, every array in it counted
    max_string: int = 200  # characters in any string or name (the store's name columns: 200)
    body_seconds: float = 30.0  # the longest a body may take to arrive (408 past it)
    header_seconds: float = 10.0  # a connection must send its request's headers within this
    request_seconds: float = 60.0  # the longest a check may take before the answer is 503
    threads: int = 2  # checks running at once in one server process
    # Checks waiting for a thread; one more is refused (503). A burst of 200 requests at once
    # (a CI farm's jobs finishing together) waits here and is answered rather than refused.
    queue: int = 256
    # Reads (runs, one run, compare, the pages) have their own small pool: a flood of them waits
    # there or gets 503, and never takes the check threads' places.
    read_threads: int = 2
    read_queue: int = 16
    read_seconds: float = 30.0
    # Submissions to a graded assignment per student token and minute, per server process; one
    # more is 429 with Retry-After.
    submissions_per_minute: int = 10


@dataclass(frozen=True)
class Settings:
    limits: Limits = field(default_factory=Limits)
    case_paths: tuple = ()  # the cases judged against (default: the installed suite)
    database: str | None = None  # the verdict store's URL (default: REFBP_DATABASE_URL, else SQLite)
    token: str = ""  # writes (POST) need `Authorization: Bearer <token>` when set
    read_token: str = ""  # reads accept it (or `token`) where reads need a token
    reads_need_token: bool = False  # bound beyond loopback: reads need a token too (`refbp serve`)
    allowed_hosts: tuple = ()  # the Host headers answered (none: any); others get 400
    cors_origins: tuple = ()  # origins allowed by CORS; none: no CORS header is ever sent
    executor: str | None = None  # dask://HOST:PORT: the checks run on that Dask cluster
    # Graded assignments: (name, the rubric's path) pairs (`refbp serve --assignment NAME=RUBRIC`);
    # their students' tokens come from the environment, never from the command line (below).
    assignments: tuple = ()
    # (assignment, student, token) of the students' tokens (refbp.service.assignment_tokens).
    assignment_tokens: tuple = ()

    @classmethod
    def from_environment(cls, **given) -> Settings:
        """REFBP_TOKEN, REFBP_READ_TOKEN, REFBP_CORS_ORIGINS (comma-separated) and the assignments'
        tokens (REFBP_ASSIGNMENT_TOKENS, REFBP_ASSIGNMENT_TOKENS_FILE) unless given."""
        given.setdefault("token", os.environ.get(TOKEN_VARIABLE, ""))
        if "assignment_tokens" not in given:
            given["assignment_tokens"] = read_tokens() if given.get("assignments") else ()
        given.setdefault("read_token", os.environ.get(READ_TOKEN_VARIABLE, ""))
        origins = os.environ.get(CORS_VARIABLE, "")
        given.setdefault("cors_origins", tuple(o.strip() for o in origins.split(",") if o.strip()))
        return cls(**given)

    def to_environment(self) -> str:
        """The settings as SETTINGS_VARIABLE's JSON (without the tokens, which stay in their variables)."""
        document = asdict(self)
        for secret in ("token", "read_token", "assignment_tokens"):
            document.pop(secret)
        return json.dumps(document)

    @classmethod
    def from_variable(cls) -> Settings:
        """The settings `refbp serve` put in SETTINGS_VARIABLE (defaults when it is unset)."""
        document = json.loads(os.environ.get(SETTINGS_VARIABLE) or "{}")
        limits = Limits(**document.pop("limits", {}))
        document["assignments"] = [tuple(pair) for pair in document.get("assignments", ())]
        return cls.from_environment(
            limits=limits, **{k: tuple(v) if isinstance(v, list) else v for k, v in document.items()}
        )
