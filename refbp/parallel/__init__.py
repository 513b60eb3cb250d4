"""Where units of work run: in this process, over N local worker processes, or on a Dask cluster.

One small API for every command that runs many independent pieces of work (`run`, `verify`,
`check`, and later `fuzz`)::

    from refbp.parallel import map_units, iter_units, UnitFailed

    results = map_units(fn, units, jobs=1, executor=None)   # results[i] is fn(units[i])
    for index, result in iter_units(fn, units, jobs=4):      # the same, streamed, in input order
        ...

- `fn` is a module-level function (pickled by reference: a worker imports it from an
  installed refbp, never receives code); `units` are plain data (strings, numbers, JSON
  documents, small dataclasses of those): what a case path, id or explicit document is.
- `jobs=1` and no executor: a plain loop in this process (the default; nothing changes).
  `jobs=N`: N local worker processes (`spawn`ed, so none inherits torch's thread pools),
  each with `cores // N` BLAS/OpenMP/torch threads so that N workers do not oversubscribe
  the cores (`worker.limit_threads`). `jobs="auto"` (`parse_jobs`) is the core count.
- `executor="dask://HOST:PORT"` (or a `distributed.Client`): the units run on that Dask
  cluster (`pip install 'refbp[cluster]'`); `jobs` is then the cluster's business.
- Results always come back in input order, so what is built from them is the same
  whatever ran them and in which order they finished.
- A unit whose worker died (a crash of the process, a kill, out of memory) is run again
  once; if it kills its worker again its result is a `UnitFailed` naming why, and every
  other unit still has its result. Locally, the units that were running beside one that
  killed their shared pool are retried one at a time, so only the unit that kills its
  worker when alone is blamed. On Dask, the scheduler reschedules a task whose worker died
  up to its `distributed.scheduler.allowed-failures` times (Dask's default: 3; 1 gives
  refbp's retry-once), then gives up (KilledWorker), which becomes a `UnitFailed`.
- Ctrl-C (KeyboardInterrupt) stops the workers, cancels what has not run and propagates:
  nothing half-done is returned.
"""

from __future__ import annotations

from .local import iter_local
from .units import DASK_SCHEME, ExecutorUnreachable, UnitFailed, in_order
from .worker import core_count, parse_jobs

__all__ = ["DASK_SCHEME", "ExecutorUnreachable", "UnitFailed", "core_count", "executor_problem", "iter_units", "map_units", "parse_jobs"]


def iter_units(fn, units, jobs: int = 1, executor=None):
    """(index, fn(units[index])) for every unit, in input order, as soon as each is known
    and all before it are; a unit that could not be run gives a `UnitFailed` as its result."""
    units = list(units)
    if executor is not None:
        from .dask_cluster import iter_dask  # Dask is an optional extra: imported only when asked for

        return iter_dask(fn, units, executor)
    if jobs <= 1 or len(units) <= 1:
        return in_order(((i, _call(fn, unit)) for i, unit in enumerate(units)), len(units))
    return iter_local(fn, units, jobs)


def map_units(fn, units, jobs: int = 1, executor=None) -> list:
    """[fn(unit) for unit in units], run where `jobs`/`executor` say (see the module's docstring)."""
    return [result for _, result in iter_units(fn, units, jobs, executor)]


def executor_problem(executor: str | None) -> str:
    """Why `--executor` cannot be used ("" when it can): asked before any work."""
    if executor is None:
        return ""
    if not executor.startswith(DASK_SCHEME) or not executor[len(DASK_SCHEME):]:
        return f"--executor {executor}: expected {DASK_SCHEME}HOST:PORT (a Dask scheduler)"
    try:
        import distributed  # noqa: F401  (only to say early that the extra is missing)
    except ImportError:
        return f"--executor {executor}: Dask is not installed (pip install 'refbp[cluster]')"
    return ""


def _call(fn, unit):
    """In this process: an exception is the unit's failure, as it would be in a worker."""
    try:
        return fn(unit)
    except Exception as exc:
        return UnitFailed(f"raised {type(exc).__name__}: {exc}")
