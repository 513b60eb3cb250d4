"""Units of work in guarded worker processes, for a user's implementation (`check --impl`,
`fuzz --impl`, even with one job): each call into it is timed by refbp's process, and a worker
that hangs in one, exits or dies is killed and replaced; its unit's result is a UnitFailed
naming the call. The user's code never runs in refbp's own process, so it cannot end it, hang
it or print into its stdout.

Inside a worker (refbp.parallel.guarded_worker) refbp.parallel.watch shows on a shared board which
call runs since when; here every busy worker's board is read at least every POLL seconds, and a
call older than `timeout` gets its worker killed (with the process group it leads). A worker
that dies while a unit runs is named by the call it was in and its exit code; the unit is run
once more in a fresh worker (a second death gives the UnitFailed); a hang is not run again.
An exit (SystemExit) or an interrupt raised inside a call is that unit's failure, reported by
the worker, which goes on. Workers are forked from refbp.parallel.local's fork server (torch and
the checking code already imported: a replacement starts in milliseconds). Ctrl-C here stops
the busy workers and propagates; idle workers are kept for this process's next units (a fuzz
run's examples, its shrinking) and ended when it exits.
"""

from __future__ import annotations

import atexit
import os
import signal
import time
from collections import deque
from multiprocessing.connection import wait
from typing import Any

from .guarded_worker import call_on, during, serve
from .local import _children_ignore_ctrl_c, _context
from .units import UnitFailed, in_order
from .worker import threads_per_worker

# The longest one call into the implementation may take, in seconds (`--timeout`).
DEFAULT_TIMEOUT = 60.0
# How often (seconds, at most) refbp's process reads the boards of busy workers.
POLL = 0.5
# Deaths of the worker running a unit before the unit is given up: the first is retried.
DEATHS_ALLOWED = 2

_idle: list[GuardedWorker] = []
_exit_registered = False


class GuardedWorker:
    """One worker process, its pipe and its board, and the unit it runs."""

    def __init__(self, threads: int):
        context = _context()
        self.threads, self.environment, self.folder = threads, dict(os.environ), os.getcwd()
        self.board = context.RawArray("d", 2)
        self.conn, child = context.Pipe()
        lifeline, self.lifeline = context.Pipe(duplex=False)  # never written: its end is the end of this process
        self.process = context.Process(
            target=serve,
            name="refbp-guarded-worker",
            args=(child, lifeline, self.board, threads, self.environment, self.folder),
        )
        with _children_ignore_ctrl_c():
            self.process.start()
        child.close()
        lifeline.close()
        self.index = -1

    def fits(self, threads: int) -> bool:
        """Can run units for a caller that wants `threads` threads in the current environment and folder."""
        return (
            self.threads == threads
            and self.environment == dict(os.environ)
            and self.folder == os.getcwd()
            and self.process.is_alive()
        )

    def submit(self, fn, unit, index: int) -> None:
        self.board[0] = 0
        self.index = index
        self.conn.send((fn, unit))

    def waits_on(self) -> list:
        return [self.conn, self.process.sentinel]

    def reply(self):
        """("ok", result) / ("failed", reason) when the worker answered, None when it died."""
        try:
            if self.conn.poll():
                return self.conn.recv()
        except (EOFError, OSError):
            return None
        except Exception as exc:  # a reply that cannot be unpickled here
            return "failed", f"its result could not be read: {type(exc).__name__}: {exc}"
        return None

    def seconds_left(self, timeout: float, now: float) -> float | None:
        """Of the call running (None when no call into the implementation runs). The worker writes
        the board while this reads it: a call that ends between reading its code and its start
        time paired a running call with the next call's cleared start (0) and read as overdue by
        the whole clock, a false timeout. The start is read before and after the code; a board
        that changed meanwhile is read again at the next poll."""
        start = self.board[1]
        if not call_on(self.board):
            return None
        if self.board[1] != start or start <= 0:
            return POLL
        return start + timeout - now

    def death(self) -> str:
        """Why the worker is gone, naming the call it was in."""
        call = call_on(self.board)
        self.stop()
        code = self.process.exitcode
        if code is None or code < 0:
            how = f"was killed by signal {_signal_name(-(code or 0))}" if code else "ended"
        else:
            how = f"exited with code {code}" + (" (os._exit)" if call else "")
        if call:
            return f"the implementation's process {how} {during(call)}"
        return f"its worker process {how} while refbp checked it"

    def stop(self) -> None:
        """Kill it now, with any process the implementation started in its group."""
        if self.process.is_alive():
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except OSError:
                pass
            self.process.kill()
        self.process.join(timeout=5)
        self.conn.close()
        self.lifeline.close()


def iter_guarded(fn, units: list, jobs: int = 1, order=None, timeout: float = DEFAULT_TIMEOUT):
    """(index, fn(units[index])) in input order (a UnitFailed when a unit gave no result), run in
    `jobs` guarded workers, each call into the implementation limited to `timeout` seconds."""
    return in_order(_finished(fn, units, jobs, order, timeout), len(units))


def run_guarded(fn, unit, timeout: float = DEFAULT_TIMEOUT):
    """fn(unit) in a guarded worker (kept for the next call), or a UnitFailed."""
    finished = _finished(fn, [unit], 1, None, timeout)
    try:
        return next(finished)[1]
    finally:
        finished.close()


def close_idle() -> None:
    """End the workers kept for later units."""
    while _idle:
        _idle.pop().stop()


def _finished(fn, units: list, jobs: int, order, timeout: float):
    """(index, result) as each unit finishes."""
    threads = threads_per_worker(jobs)
    waiting = deque(range(len(units)) if order is None else order)
    deaths: dict[int, int] = {}
    busy: list[GuardedWorker] = []
    try:
        while waiting or busy:
            while waiting and len(busy) < jobs:
                worker, index = _take(threads), waiting.popleft()
                busy.append(worker)
                try:
                    worker.submit(fn, units[index], index)
                except (BrokenPipeError, ConnectionResetError):  # it died while idle: seen by the wait
                    pass
            for worker, result in _wait(busy, timeout):
                busy.remove(worker)
                if isinstance(result, _Died):
                    deaths[worker.index] = deaths.get(worker.index, 0) + 1
                    if deaths[worker.index] < DEATHS_ALLOWED:
                        waiting.appendleft(worker.index)
                        continue
                    result = UnitFailed(
                        f"{result.reason} (its worker process died {deaths[worker.index]} times: retried once)"
                    )
                yield worker.index, result
    finally:  # normally, or Ctrl-C, or the caller stopped reading: no busy worker is left behind
        for worker in busy:
            worker.stop()


class _Died:
    def __init__(self, reason: str):
        self.reason = reason


def _wait(busy: list[GuardedWorker], timeout: float) -> list:
    """[(worker, result)] of the workers that answered, died or overran `timeout` in a call."""
    now = time.monotonic()
    lefts = [left for left in (w.seconds_left(timeout, now) for w in busy) if left is not None]
    ready = set(wait([handle for w in busy for handle in w.waits_on()], timeout=max(0.0, min([POLL, *lefts]))))
    now = time.monotonic()
    results: list[tuple[GuardedWorker, Any]] = []
    for worker in list(busy):
        if ready & set(worker.waits_on()):
            answer = worker.reply()
            if answer is None:
                results.append((worker, _Died(worker.death())))
                continue
            status, value = answer
            _idle.append(worker)
            results.append((worker, value if status == "ok" else UnitFailed(value)))
            continue
        left = worker.seconds_left(timeout, now)
        if left is not None and left <= 0:
            call = call_on(worker.board)
            worker.stop()
            what = "importing the implementation" if call == "import" else f"the implementation's {call}()"
            results.append((worker, UnitFailed(f"{what} did not finish within {timeout:g} s (--timeout): stopped")))
    return results


def _take(threads: int) -> GuardedWorker:
    """An idle worker that fits, or a new one."""
    global _exit_registered
    while _idle:
        worker = _idle.pop()
        if worker.fits(threads):
            return worker
        worker.stop()
    if not _exit_registered:
        atexit.register(close_idle)  # after multiprocessing's own exit handler, so run before it
        _exit_registered = True
    return GuardedWorker(threads)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)
