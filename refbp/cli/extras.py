"""Which optional extra of refbp a missing module belongs to, for the one-line answer of a
command that needs it (`pip install 'refbp[service]'`): the core install runs the suite, the
checks, the reports and fuzzing; the service, PostgreSQL and Dask are extras (pyproject.toml)."""

from __future__ import annotations

# top-level module -> the extra that installs it
EXTRA_OF_MODULE = {
    "fastapi": "service",
    "uvicorn": "service",
    "httptools": "service",
    "uvloop": "service",
    "httpx": "service",
    "psutil": "service",
    "starlette": "service",
    "psycopg": "store-postgres",
    "dask": "cluster",
    "distributed": "cluster",
}


def missing_extra(exc: ImportError) -> str | None:
    """The extra whose module `exc` did not find, or None (not an extra's: a real error)."""
    name = (getattr(exc, "name", None) or "").partition(".")[0]
    return EXTRA_OF_MODULE.get(name)


def extra_line(command: str, exc: ImportError) -> str | None:
    """`refbp serve needs refbp's service extra (fastapi is not installed): pip install 'refbp[service]'`."""
    extra = missing_extra(exc)
    if extra is None:
        return None
    return f"refbp {command} needs refbp's {extra} extra ({exc.name} is not installed): pip install 'refbp[{extra}]'"
