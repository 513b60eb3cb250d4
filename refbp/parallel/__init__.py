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
  `jobs=N`: N local worker processes (forked from a fork server that has imported torch
  and the checking code but run nothing, so none inherits torch's thread pools), each with
  `cores // N` BLAS/OpenMP/torch threads so that N workers do not oversubscribe the cores
  (`worker.limit_threads`). `jobs="auto"` (`parse_jobs`) is the core count.
- `executor="dask://HOST:PORT"` (or a `distributed.Client`): the units run on that Dask
  cluster (`pip install 'refbp[cluster]'`); `jobs` is then the cluster's business.
- Results always come back in input order, so what is built from them is the same
  whatever ran them and in which order they finished. `costs` (optional, a number per
  unit) says which units to start first: the dearest, so that no worker is left with a big unit
  at the end while the others idle (the order of the results does not change).
- `start_workers(jobs)` starts the local workers' fork server ahead of the work (it imports
  torch and the checking code while the caller still loads its units).
- A unit whose worker died (a crash of the process, a kill, out of memory) is run again
  once; if it kills its worker again its result is a `UnitFailed` naming why, and every
  other unit still has its result. Locally, the units that were running beside one that
  killed their shared pool are retried one at a time, so only the unit that kills its
  worker when alone is blamed. On Dask, refbp counts each start of a unit on the scheduler
  (refbp.parallel.dask_cluster): a third start gives the `UnitFailed` instead of running,
  whatever the scheduler's `allowed-failures` (a unit it gave up on sooner is submitted once
  more), so no setting of the cluster is needed.
- Ctrl-C (KeyboardInterrupt) stops the workers, cancels what has not run and propagates:
  nothing half-done is returned.
- `timeout=T` (a user's implementation: `check --impl`, `fuzz --impl`): the units run in
  guarded workers (refbp.parallel.guarded), even for jobs=1, each call into the
  implementation limited to T seconds; one that hangs, exits or kills its worker gives its
  unit a `UnitFailed` naming the call. Not on Dask (there a unit runs as it would locally
  without a timeout; a worker's death is the cluster's to retry).
"""

from __future__ import annotations

import importlib

from .local import iter_local, start_local_workers
from .units import DASK_SCHEME, ExecutorUnreachable, UnitFailed, in_order
from .worker import core_count, parse_jobs

__all__ = [
    "DASK_SCHEME",
    "ExecutorUnreachable",
    "UnitFailed",
    "check_reachable",
    "core_count",
    "executor_problem",
    "iter_units",
    "lasting_executor",
    "map_units",
    "parse_jobs",
    "start_workers",
]


def iter_units(fn, units, jobs: int = 1, executor=None, costs=None, timeout: float | None = None):
    """(index, fn(units[index])) for every unit, in input order, as soon as each is known
    and all before it are; a unit that could not be run gives a `UnitFailed` as its result.
    `timeout`: in guarded workers (see the module's docstring)."""
    units = list(units)
    order = start_order(len(units), costs)
    if executor is not None:
        from .dask_cluster import iter_dask  # Dask is an optional extra: imported only when asked for

        if timeout is not None:  # a user's implementation: each call timed in the cluster's worker
            from functools import partial

            from .watched_thread import watched_unit

            fn = partial(watched_unit, fn, timeout)
        return iter_dask(fn, units, executor, order)
    if timeout is not None:
        from .guarded import iter_guarded

        return iter_guarded(fn, units, jobs, order, timeout)
    if jobs <= 1 or len(units) <= 1:
        return in_order(((i, _call(fn, unit)) for i, unit in enumerate(units)), len(units))
    return iter_local(fn, units, jobs, order)


def map_units(fn, units, jobs: int = 1, executor=None, costs=None) -> list:
    """[fn(unit) for unit in units], run where `jobs`/`executor` say (see the module's docstring)."""
    return [result for _, result in iter_units(fn, units, jobs, executor, costs)]


def start_order(count: int, costs=None) -> list[int]:
    """The indices 0..count-1, dearest first (ties in input order); input order without `costs`."""
    if costs is None:
        return list(range(count))
    if len(costs) != count:
        raise ValueError(f"start_order: {len(costs)} costs for {count} units")
    return sorted(range(count), key=lambda i: -costs[i])


def start_workers(jobs: int = 1, executor=None, meanwhile=(), preload=(), guarded: bool = False) -> None:
    """Get the local workers ready ahead of the work: their fork server imports torch and the
    checking code, seconds on one core. Meanwhile this process imports the modules named in
    `meanwhile` (what it needs once the work is done: the report, the store) on another core,
    rather than after the work. `preload`: modules the workers need beyond the checking code.
    Nothing to do for one job in this process, unless `guarded` (a user's implementation runs
    in guarded workers, refbp.parallel.guarded, forked from the same server)."""
    if jobs <= 1 and executor is None and not guarded:
        return
    if executor is None or guarded:
        start_local_workers(preload)
    for name in meanwhile:
        importlib.import_module(name)


def lasting_executor(executor):
    """The executor for a process that runs many batches of units (the service): a dask://
    address becomes one distributed.Client, connected now (ExecutorUnreachable when no
    scheduler answers) and kept, so that a batch does not connect again. None stays None."""
    if not isinstance(executor, str):
        return executor
    from .dask_cluster import connect  # Dask is an optional extra: imported only when asked for

    return connect(executor)[0]


def check_reachable(executor: str | None) -> None:
    """ExecutorUnreachable now, before any work, when no Dask scheduler answers at `executor`
    (for a process that hands work to it later: the service). None: nothing to check."""
    if executor is None:
        return
    from .dask_cluster import connect  # Dask is an optional extra: imported only when asked for

    client, opened = connect(executor)
    if opened:
        client.close()


def executor_problem(executor: str | None) -> str:
    """Why `--executor` cannot be used ("" when it can): asked before any work."""
    if executor is None:
        return ""
    if not executor.startswith(DASK_SCHEME) or not executor[len(DASK_SCHEME) :]:
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
