"""`refbp serve`: the verification service over HTTP (refbp.service), started with uvicorn."""

from __future__ import annotations

import argparse
import os
import sys

from refbp.parallel import check_reachable, executor_problem
from refbp.service.lifeline import SUPERVISOR_VARIABLE
from refbp.service.settings import MIB, SETTINGS_VARIABLE, TOKEN_VARIABLE, Limits, Settings

from . import serve_assignments
from .usage import fail_usage

HELP = """\
Serve the verification service: POST /v1/verify judges a refbp-result/1 document (or a
refbp-results/1 bundle) against the suite and records the verdicts in the verdict store;
GET /v1/cases, /v1/cases/{id}, /v1/schemas/{name}, /v1/runs, /v1/runs/{id},
/v1/compare?runs=ID,ID read; /healthz says it is up. Pages for people: / (the runs),
/runs/{id}, /compare, /docs (the API; /openapi.json).

Limits: a body over --max-body-mb is 413; a bundle, a tensor or a parameter table over
its limit is 422 naming the field; malformed JSON is 400 naming the line; checks run in
--threads worker threads per process with at most --queue waiting, beyond which a
request gets 503 with Retry-After; a check past --request-seconds gets 503 too.
Writes need `Content-Type: application/json`, and `Authorization: Bearer <token>` when
REFBP_TOKEN is set. On 127.0.0.1 (the default) reads are open and only the Host names of this
machine are answered; bound to any other address, it needs REFBP_TOKEN, and reads need a
token too (REFBP_READ_TOKEN or REFBP_TOKEN) unless --open-reads. CORS is off unless
REFBP_CORS_ORIGINS (comma-separated origins) is set. An `Idempotency-Key` header makes a
retried POST get the first answer. GET /readyz says whether the store can be written now.
The store: REFBP_DATABASE_URL or --database (default: SQLite in the user's data folder); it
must be writable, or the server does not start.
At its start it prints one line on stderr: the URL it serves on and the store (its password
hidden). More: docs/service.md.
"""


# With --workers above 1, uvicorn kills a worker whose health-check thread does not answer
# within this time. Its default (5 s) is shorter than a busy worker can take to get the GIL
# on a loaded machine (its checks hold it), and a killed worker drops its open connections.
WORKER_HEALTHCHECK_SECONDS = 60
# Connections and requests at once per process beyond which uvicorn answers 503 at once; with
# the header timeout (refbp.service.protocol) it keeps idle sockets from using up the descriptors.
CONNECTION_LIMIT = 2048
KEEP_ALIVE_SECONDS = 5
GRACEFUL_SECONDS = 15
LOOPBACK = ("127.0.0.1", "localhost", "::1")
APP = "refbp.service.app:app_from_environment"  # uvicorn's factory, called in each server process


def register(sub):
    p = sub.add_parser(
        "serve",
        help="the verification service over HTTP",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--host", default="127.0.0.1", help="the address to listen on (default: 127.0.0.1, this machine only)"
    )
    p.add_argument("--port", type=int, default=8000, help="the port (default: 8000)")
    p.add_argument("--workers", type=int, default=1, metavar="N", help="server processes (default: 1)")
    p.add_argument("--threads", type=int, default=2, metavar="N", help="checks at once per process (default: 2)")
    p.add_argument(
        "--queue",
        type=int,
        default=Limits.queue,
        metavar="N",
        help=f"checks waiting per process before 503 (default: {Limits.queue})",
    )
    p.add_argument("--max-body-mb", type=float, default=8.0, metavar="MB", help="largest body (default: 8 MiB)")
    p.add_argument(
        "--request-seconds", type=float, default=60.0, metavar="S", help="longest check of one request (default: 60)"
    )
    p.add_argument(
        "--header-seconds",
        type=float,
        default=Limits.header_seconds,
        metavar="S",
        help="close a connection whose request's headers have not arrived within S seconds "
        f"(default: {Limits.header_seconds:g}); a body has --body-seconds",
    )
    p.add_argument(
        "--body-seconds",
        type=float,
        default=Limits.body_seconds,
        metavar="S",
        help=f"the longest a request's body may take to arrive: 408 past it (default: {Limits.body_seconds:g})",
    )
    p.add_argument(
        "--cases",
        action="append",
        metavar="PATH",
        help="a case file or folder to judge against (repeat; default: the installed suite)",
    )
    p.add_argument("--database", metavar="URL", help="the verdict store (default: REFBP_DATABASE_URL, else SQLite)")
    p.add_argument(
        "--executor",
        metavar="dask://HOST:PORT",
        help="run the checks on this Dask cluster (pip install 'refbp[cluster]'); the server only "
        "parses, records and answers",
    )
    p.add_argument(
        "--allowed-host",
        action="append",
        metavar="NAME",
        help="a Host name the server answers to (repeat; default on 127.0.0.1: 127.0.0.1, localhost, "
        "::1; elsewhere: any)",
    )
    p.add_argument(
        "--open-reads", action="store_true", help="bound beyond 127.0.0.1, let reads (runs, pages) go without a token"
    )
    serve_assignments.register(p)
    p.add_argument("--log-level", default="warning", choices=("critical", "error", "warning", "info", "debug"))
    p.set_defaults(handler=handle)


def serving_line(args) -> str:
    """Where the service listens and where it keeps its verdicts, the store's password hidden:
    `http://127.0.0.1:8000/ (1 process, 2 checks at once each; store sqlite:////.../verdicts.sqlite)`."""
    from refbp.store.database import store_off, store_url

    host = f"[{args.host}]" if ":" in args.host else args.host
    processes = f"{args.workers} process{'es' if args.workers > 1 else ''}"
    store = "none (nothing is recorded)" if store_off(args.database) else shown_url(store_url(args.database))
    return f"http://{host}:{args.port}/ ({processes}, {args.threads} checks at once each; store {store})"


def shown_url(url: str) -> str:
    """A database URL with its password (and any other credential in it) replaced by ***."""
    from refbp.store.redact import redacted

    return redacted(url)


def handle(args) -> int:
    import uvicorn  # the server: imported only by this command

    for name in ("port", "workers", "threads", "queue"):
        value = getattr(args, name)
        if value < (0 if name == "queue" else 1) or (name == "port" and value > 65535):
            return fail_usage(f"--{name}: {value} is out of range")
    if not all(
        0 < value < float("inf")
        for value in (args.max_body_mb, args.request_seconds, args.header_seconds, args.body_seconds)
    ):
        return fail_usage("--max-body-mb, --request-seconds, --header-seconds and --body-seconds must be positive")
    limits = Limits(
        max_body_bytes=int(args.max_body_mb * MIB),
        request_seconds=args.request_seconds,
        threads=args.threads,
        queue=args.queue,
        header_seconds=args.header_seconds,
        body_seconds=args.body_seconds,
        submissions_per_minute=args.submissions_per_minute,
    )
    if executor_problem(args.executor):
        return fail_usage(executor_problem(args.executor))
    # Asked once here: otherwise each server process would fail at its start with a traceback.
    check_reachable(args.executor)  # ExecutorUnreachable: a usage error (refbp.cli.main)
    loopback = args.host in LOOPBACK
    if not loopback and not os.environ.get(TOKEN_VARIABLE):
        return fail_usage(
            f"--host {args.host}: beyond this machine the service needs REFBP_TOKEN set (writes "
            "need it; reads need it or REFBP_READ_TOKEN unless --open-reads)"
        )
    problem = store_problem(args.database)
    if problem:
        return fail_usage(problem)
    from refbp.store.database import store_off

    assignments, problem = serve_assignments.assignments(args, store_on=not store_off(args.database))
    if problem:
        return fail_usage(problem)
    settings = Settings(
        limits=limits,
        case_paths=tuple(args.cases or ()),
        database=args.database,
        executor=args.executor,
        reads_need_token=not loopback and not args.open_reads,
        allowed_hosts=tuple(args.allowed_host or (LOOPBACK if loopback else ())),
        assignments=assignments,
    )
    os.environ[SETTINGS_VARIABLE] = settings.to_environment()
    os.environ[SUPERVISOR_VARIABLE] = str(os.getpid())  # its workers die with it (refbp.service.lifeline)
    _more_descriptors()
    # One BLAS/OpenMP thread per check: a request's products are tiny, and the concurrency is the
    # server's (its processes and threads), not the libraries' thread pools fighting over the cores.
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, "1")
    print(f"refbp serve: {serving_line(args)}", file=sys.stderr, flush=True)
    from refbp.service.protocol import GuardedHttpTools
    from refbp.service.workers import run_workers, spreads

    options = dict(
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        access_log=False,
        http=GuardedHttpTools,
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
        limit_concurrency=CONNECTION_LIMIT,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        timeout_graceful_shutdown=GRACEFUL_SECONDS,
    )
    if args.workers > 1 and spreads():  # each worker on a socket of its own (refbp.service.workers)
        run_workers(APP, **options)
    else:
        uvicorn.run(APP, **options)
    return 0


def store_problem(database: str | None) -> str | None:
    """Why the store cannot be written now, in one line (None: it can, or it is off): the server
    refuses to start rather than acknowledge verdicts it would lose."""
    from refbp.store import StoreError, open_store, write_problem
    from refbp.store.database import store_off, store_url

    if store_off(database):
        return None
    try:
        store = open_store(database)
    except StoreError as exc:
        return str(exc)
    try:
        problem = write_problem(store)
    finally:
        store.engine.dispose()
    return None if problem is None else f"verdict store {shown_url(store_url(database))}: cannot be written: {problem}"


def _more_descriptors() -> None:
    """The soft limit of open files raised to the hard one: each connection holds one."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY or soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else 65536, hard))
    except (ImportError, ValueError, OSError):
        pass
