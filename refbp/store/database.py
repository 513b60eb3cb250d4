"""Where the verdict store lives and how it is opened: the URL, the engine, the migrations.

The migrations (`migrations/versions/`) are the one definition of the tables: an opened
store reflects them from the database rather than declaring them a second time.

SQLite writers are serialised with `BEGIN IMMEDIATE` (a writer takes the write lock when its
transaction begins, and a second one waits for it up to the busy timeout, instead of
failing half-way); PostgreSQL runs the migrations under an advisory lock, so two processes
opening a new store at once create its tables once.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from .redact import redacted

DATABASE_URL_VARIABLE = "REFBP_DATABASE_URL"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Seconds a SQLite writer waits for another writer's lock before giving up.
SQLITE_BUSY_SECONDS = 60
# Any constant: the key of PostgreSQL's advisory lock around the migrations.
MIGRATION_LOCK_KEY = 0x72656662


class StoreError(RuntimeError):
    """The store cannot be opened or written (one line: the URL without its password, and why)."""


def default_url() -> str:
    """SQLite in the user's data folder: $XDG_DATA_HOME/refbp/verdicts.sqlite (~/.local/share by default)."""
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return f"sqlite:///{base / 'refbp' / 'verdicts.sqlite'}"


def store_url(url: str | None = None) -> str:
    return url or os.environ.get(DATABASE_URL_VARIABLE) or default_url()


# REFBP_DATABASE_URL=none (or --database none): record nothing.
STORE_OFF = "none"


def store_off(url: str | None = None) -> bool:
    return store_url(url).lower() == STORE_OFF


@dataclass(frozen=True)
class Store:
    """An open store: its engine and its tables (reflected after the migrations ran)."""

    engine: sa.Engine
    runs: sa.Table
    case_verdicts: sa.Table
    checks: sa.Table
    idempotency: sa.Table
    # SQLite: one writer at a time in this process. Its threads then queue on this lock, woken as
    # soon as it is free, instead of on SQLite's busy handler, which sleeps 1, 2, 5, 10, 15, 20,
    # 25 ... ms between tries (other processes still meet that handler, one writer each).
    _write_lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)

    @contextmanager
    def writing(self) -> Iterator[sa.Connection]:
        """A connection in a write transaction, committed when the block ends (rolled back if it raises)."""
        with self._write_lock if self.kind == "sqlite" else nullcontext(), self.engine.begin() as connection:
            yield connection

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def reading(self) -> sa.Connection:
        """A connection for reads. On SQLite its transaction is a plain BEGIN: a reader reads its
        snapshot of the WAL and never waits for, nor holds, the write lock that writers take."""
        return self.engine.connect().execution_options(refbp_read=True)

    @property
    def kind(self) -> str:
        """`sqlite`, `postgresql`, ...: what may be said about the store where its URL may not."""
        return self.engine.dialect.name


TABLES = ("runs", "case_verdicts", "checks", "idempotency")


def open_store(url: str | None = None) -> Store:
    """The store at `url` (else REFBP_DATABASE_URL, else `default_url()`), its schema
    upgraded to the newest migration."""
    url = store_url(url)
    try:
        engine = _engine(sa.make_url(url))
        _upgrade(engine)
        metadata = sa.MetaData()
        metadata.reflect(bind=engine, only=list(TABLES))
    except ModuleNotFoundError:  # a driver not installed: the command line names the extra that brings it
        raise
    except Exception as exc:  # a bad URL, a server that is down, a missing driver: one line for the user
        first_line = (str(exc).strip().splitlines() or [""])[0]
        raise StoreError(redacted(f"verdict store {url}: {type(exc).__name__}: {first_line}")) from exc
    runs, case_verdicts, checks, idempotency = (metadata.tables[name] for name in TABLES)
    return Store(engine, runs, case_verdicts, checks, idempotency)


def write_problem(store: Store) -> str | None:
    """None when a committed write to the store succeeds now; else one line saying why not (no URL,
    no path: it is shown to clients). The write changes nothing: alembic_version is set to itself,
    which still makes SQLite append to its WAL and PostgreSQL take a row lock."""
    try:
        with store.writing() as connection:
            connection.execute(sa.text("UPDATE alembic_version SET version_num = version_num"))
    except Exception as exc:  # a read-only file, a full disk, a server gone: the reason, in one line
        return write_error_line(exc)
    return None


def write_error_line(exc: BaseException) -> str:
    """The reason a write failed, in one line, without the store's URL or path."""
    cause = getattr(exc, "orig", None) or exc
    first_line = (str(cause).strip().splitlines() or [""])[0]
    return redacted(f"{type(cause).__name__}: {first_line}")[:300]


def _engine(url: sa.URL) -> sa.Engine:
    if url.get_backend_name() != "sqlite":
        return sa.create_engine(url, pool_pre_ping=True)
    if url.database and url.database != ":memory:" and not url.database.startswith("file:"):  # file: a SQLite URI
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_SECONDS})

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # let SQLAlchemy's BEGIN below be the only one
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for a writer
        # With WAL, NORMAL syncs at checkpoints rather than at every commit: a commit stays atomic
        # (a run lands whole or not at all), and the service's one run per request needs no fsync each.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql(
            "BEGIN" if connection.get_execution_options().get("refbp_read") else "BEGIN IMMEDIATE"
        )

    return engine


def _upgrade(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
