"""The verdict store: every `run`, `verify` and `check` kept in a SQL database.

SQLite by default (`default_url()`: a file in the user's data folder, no set-up), PostgreSQL
(or any SQLAlchemy URL) when REFBP_DATABASE_URL names one. The schema is created and
upgraded by Alembic migrations (`refbp/store/migrations/`) when a store is opened. A run is
written in one transaction: it lands whole or not at all, and concurrent writers both land.
"""

from .database import DATABASE_URL_VARIABLE, Store, StoreError, default_url, open_store
from .history import AmbiguousRun, resolve_run, run_checks, run_row, runs_frame
from .record import RunRecord, keep_run, record_run

__all__ = ["AmbiguousRun", "DATABASE_URL_VARIABLE", "RunRecord", "Store", "StoreError", "default_url", "keep_run", "open_store", "record_run",
           "resolve_run", "run_checks", "run_row", "runs_frame"]
