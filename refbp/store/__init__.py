"""The verdict store: every `run`, `verify` and `check` kept in a SQL database.

SQLite by default (`default_url()`: a file in the user's data folder, no set-up), PostgreSQL
(or any SQLAlchemy URL) when REFBP_DATABASE_URL names one. The schema is created and
upgraded by Alembic migrations (`refbp/store/migrations/`) when a store is opened. A run is
written in one transaction: it lands whole or not at all, and concurrent writers both land.
"""

from .database import DATABASE_URL_VARIABLE, Store, StoreError, default_url, open_store, write_problem
from .history import AmbiguousRun, named_runs, resolve_run, run_checks, run_row, runs_checks, runs_frame
from .idempotency import Answered, KeyTaken, answered
from .record import RunRecord, keep_run, record_run
from .redact import redacted

__all__ = [
    "DATABASE_URL_VARIABLE",
    "AmbiguousRun",
    "Answered",
    "KeyTaken",
    "RunRecord",
    "Store",
    "StoreError",
    "answered",
    "default_url",
    "keep_run",
    "named_runs",
    "open_store",
    "record_run",
    "redacted",
    "resolve_run",
    "run_checks",
    "run_row",
    "runs_checks",
    "runs_frame",
    "write_problem",
]
