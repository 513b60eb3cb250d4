"""The bounded worker pools of the service: work runs off the event loop, in at most `threads`
threads, with at most `queue` waiting; one more is refused at once (`Busy`, 503) instead of
joining an unbounded backlog. A request takes its slot before its body is read (`take`), so
a flood of large bodies waits as refused requests, not as buffered bytes.

A check's request may stop waiting (past its time) while its thread goes on: `Deadline`
decides, under one lock, whether the thread still records its run (the request still waits)
or not (it was answered 503), so that nothing is stored for a request answered with an error.
"""

from __future__ import annotations

import asyncio
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from .pace import CpuShare


class Busy(RuntimeError):
    """Every thread is busy and the queue is full: try again later."""


class CheckTimeout(RuntimeError):
    """A check ran past the time allowed to one request."""


class Deadline:
    """Between a worker thread and its waiting request: `commit` (the thread, before it records)
    and `abandon` (the request, past its time) exclude each other."""

    def __init__(self):
        self._lock = threading.Lock()
        self._state = "running"

    def commit(self) -> bool:
        """True: the request still waits, record; False: it was answered already, record nothing."""
        with self._lock:
            if self._state == "abandoned":
                return False
            self._state = "committing"
            return True

    def abandon(self) -> bool:
        """True: the thread will record nothing; False: its commit is under way, wait for it."""
        with self._lock:
            if self._state == "committing":
                return False
            self._state = "abandoned"
            return True


class Slot:
    """One place in a pool, held from `take` until the work submitted with it finishes (or until
    `release` when none was submitted)."""

    def __init__(self, pool: CheckPool):
        self.pool, self.submitted, self.released = pool, False, False

    async def run(self, function, *args, seconds: float, deadline: Deadline | None = None):
        """`function(*args)` in a worker thread; CheckTimeout past `seconds` (unless `deadline`
        says the work is committing: then its end is awaited)."""
        future = self.pool.executor.submit(function, *args)
        self.submitted = True
        future.add_done_callback(lambda _: self._free())
        waited = asyncio.wrap_future(future)
        try:
            return await asyncio.wait_for(asyncio.shield(waited), seconds)
        except asyncio.TimeoutError:
            if deadline is not None and not deadline.abandon():
                return await waited
            raise CheckTimeout(f"the check did not finish within {seconds:g} s") from None

    def release(self) -> None:
        if not self.submitted:
            self._free()

    def _free(self) -> None:
        if not self.released:
            self.released = True
            self.pool.slots.release()
            with self.pool.lock:
                self.pool.taken -= 1


def _lower_priority() -> None:
    """This thread yields the cores to the check threads when they are contended (Linux: a
    thread's own nice value)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    except (AttributeError, OSError):
        pass


class CheckPool:
    def __init__(self, threads: int, queue: int, name: str = "refbp-check", yielding: bool = False):
        """`yielding`: its threads run at a lower priority than the process's others (the reads:
        a flood of compares takes the cores the checks leave, not theirs)."""
        self.executor = ThreadPoolExecutor(
            max_workers=threads, thread_name_prefix=name, initializer=_lower_priority if yielding else None
        )
        self.slots = threading.BoundedSemaphore(threads + queue)
        # Bodies declared over SPOOL_BYTES are read and parsed at once by half the threads at
        # most: parsing megabytes of JSON holds a core for a second, and a flood of them would
        # take every check thread's.
        self.large_lane = threading.BoundedSemaphore(max(1, threads // 2))
        self.name = name
        self.lock, self.taken = threading.Lock(), 0  # slots held now (their work running or waiting)
        self.pace: CpuShare | None = None  # the reads' share of a core while checks run (refbp.service.pace)
        self.large_pace: CpuShare | None = None  # the large bodies' share, likewise (verify_route.large_turn)

    def take(self) -> Slot:
        """A slot, or Busy at once when none is free."""
        if not self.slots.acquire(blocking=False):
            raise Busy(
                "every worker is busy and the queue is full" if self.name == "refbp-check" else "too many reads at once"
            )
        with self.lock:
            self.taken += 1
        return Slot(self)

    async def run(self, function, *args, seconds: float, deadline: Deadline | None = None, paced: bool = True):
        """`function(*args)` in a worker thread; Busy when no slot is free (or, with `pace`, no turn
        within `seconds`), CheckTimeout past `seconds` (work already running finishes in its thread,
        and frees its slot then). `paced=False`: not held by the pace (a readiness probe)."""
        slot = self.take()
        turn = None
        try:
            if self.pace is not None and paced:
                try:
                    turn = await self.pace.turn(seconds)
                except (TimeoutError, asyncio.TimeoutError):
                    raise Busy("the reads' share of the server is spent while checks run: try again later") from None
                function = self.pace.metered(function)
            return await slot.run(function, *args, seconds=seconds, deadline=deadline)
        finally:
            if turn is not None:
                turn.release()
            slot.release()

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
