"""N local worker processes (concurrent.futures), a unit whose worker died retried once, and
Ctrl-C that stops every worker.

At most N units are in flight, so when a worker dies (the whole pool breaks with it) the
units then in flight are exactly the suspects. Each failure is counted against every suspect;
suspects are then run one at a time in a fresh pool, so a unit that kills its worker while
alone is the culprit: its second death makes it a UnitFailed, and a unit that only stood
beside it gets its result on the retry.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import forkserver

from .units import UnitFailed, in_order
from .worker import prepare_local_worker, threads_per_worker

# What the fork server imports before forking workers (an ImportError there is ignored), so
# that every worker starts with it: torch and the checking code; and, last, the server's own
# quick exit (refbp.parallel.server_exit).
FORK_SERVER_PRELOAD = (
    "numpy",
    "torch",
    "refbp.check",
    "refbp.oracle.torch_reference",
    "refbp.oracle.fd",
    "refbp.perturbed",
    "refbp.check.check_adapter",
)
SERVER_EXIT = "refbp.parallel.server_exit"
# Deaths of the worker running a unit before the unit is given up: the first is retried.
DEATHS_ALLOWED = 2


def iter_local(fn, units: list, jobs: int, order=None):
    """(index, result) in input order; see refbp.parallel for the contract. `order`: the indices
    in the order to start them (default: input order)."""
    return in_order(_finished(fn, units, jobs, order), len(units))


def start_local_workers(preload=()) -> None:
    """Start the fork server now, before there is work: it imports torch and the checking code
    (seconds, on one core) while this process goes on loading cases on another. Workers are
    forked from it when the work is submitted; without this, the import would start only then.
    `preload`: more modules for it to import (when it is not running yet)."""
    if _context(preload).get_start_method() == "forkserver":
        with _children_ignore_ctrl_c():
            forkserver.ensure_running()


def _finished(fn, units: list, jobs: int, order=None):
    """(index, result) as each unit finishes."""
    waiting = deque(range(len(units)) if order is None else order)
    suspects: deque[int] = deque()
    deaths: dict[int, int] = {}
    pool = None
    in_flight: dict = {}
    try:
        while waiting or suspects or in_flight:
            if pool is None:
                pool = _new_pool(jobs)
            # While there are suspects, one unit at a time: a death then has one culprit.
            queue, limit = (suspects, 1) if suspects else (waiting, jobs)
            while queue and len(in_flight) < limit:
                try:
                    with _children_ignore_ctrl_c():
                        in_flight[pool.submit(fn, units[queue[0]])] = queue[0]
                except BrokenProcessPool:  # a worker died since the last wait: seen below
                    broken = True
                    break
                queue.popleft()
            else:
                broken = False
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            if broken or any(isinstance(future.exception(), BrokenProcessPool) for future in done):
                wait(in_flight)  # the pool is broken: every future in flight ends now
                done = set(in_flight)
                _stop(pool)
                pool = None
            for future in done:
                index = in_flight.pop(future)
                error = future.exception()
                if error is None:
                    yield index, future.result()
                elif isinstance(error, BrokenProcessPool):
                    deaths[index] = deaths.get(index, 0) + 1
                    if deaths[index] >= DEATHS_ALLOWED:
                        yield (
                            index,
                            UnitFailed(
                                f"its worker process died {deaths[index]} times while running it (retried once)"
                            ),
                        )
                    else:
                        suspects.append(index)
                else:
                    yield index, UnitFailed(f"raised {type(error).__name__}: {error}")
    finally:  # normally, or Ctrl-C, or the caller stopped reading: no worker is left behind
        if pool is not None:
            _stop(pool)


def _new_pool(jobs: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=_context(),
        initializer=prepare_local_worker,
        initargs=(threads_per_worker(jobs), dict(os.environ)),
    )


def _context(preload=()):
    """Workers forked from a fork server that has imported numpy and torch once (a worker then
    starts in milliseconds, not the seconds of importing torch) and never ran anything: a
    worker forked from this process could inherit torch's OpenMP threads, which hang after a
    fork. Where there is no fork server, fresh interpreters (spawn)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    if not _server_running():  # the preload is read when the server starts (once per process)
        context.set_forkserver_preload([*FORK_SERVER_PRELOAD, *preload, SERVER_EXIT])
    return context


def _server_running() -> bool:
    return getattr(forkserver._forkserver, "_forkserver_pid", None) is not None


@contextlib.contextmanager
def _children_ignore_ctrl_c():
    """Workers (and the fork server) are started by a submit: started while this process ignores
    SIGINT, they ignore it from their first instruction (an ignored signal stays ignored across
    fork and exec), so a Ctrl-C at the terminal stops only this process, which then stops the
    workers itself. (A Ctrl-C during the few milliseconds of a start is lost.)"""
    with _without_the_current_folder():
        if threading.current_thread() is not threading.main_thread():
            yield  # signal handlers belong to the main thread; a caller in another thread has no Ctrl-C
            return
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def _without_the_current_folder():
    """The fork server is a `python -c` interpreter, which puts the current folder first on its
    sys.path: run from a folder holding a clone of refbp (a folder named refbp/), `import refbp`
    there found that folder as a namespace package instead of the installed refbp, and every
    worker died on import. PYTHONSAFEPATH (Python >= 3.11) keeps the folder off sys.path; the
    workers' environment is refbp's own again (prepare_local_worker), and `--impl pkg.mod:factory`
    is still imported from the current folder (refbp.check.adapter_factory puts it on sys.path then)."""
    previous = os.environ.get("PYTHONSAFEPATH")
    os.environ["PYTHONSAFEPATH"] = "1"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("PYTHONSAFEPATH", None)
        else:
            os.environ["PYTHONSAFEPATH"] = previous


def _stop(pool: ProcessPoolExecutor) -> None:
    """Stop at once: cancel what has not started and end the worker processes."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=5)
