"""A share of one core for the reads while checks run: a flood of compares or pages waits, it
does not take the check threads' time.

Thread priorities cannot do this in one Python process: a read thread at nice 10 still holds the
GIL for as long as any other thread when it gets it. So the reads' own CPU time is metered
instead: each read's thread time, plus what its request costs outside that thread, is charged to
a bucket that refills at SHARE seconds a second and holds at most BURST. While the check pool
has work, a read starts only when the bucket is not empty, one at a time; a read that cannot start
within its time is refused (Busy: 503 with Retry-After). While no check runs, reads are not held.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

# A twentieth of a core per server process for reads while checks run: still dozens of compares a
# second, and a flood of them costs verify little (docs/service.md, "Under attack": the share of
# verify's throughput a compare flood leaves, measured at 0.05 and at 0.10).
SHARE = 0.05
# Seconds of CPU the reads may take at once before the share holds them: one page with its
# pictures, or a few hundred cached compares, goes at full speed.
BURST = 1.0
# Large bodies (declared over 1 MiB: read, parsed and judged one at a time per two check threads)
# get a quarter of a core per server process while other checks run: a flood of them waits.
LARGE_BODY_SHARE = 0.25
# Charged per read on top of its thread's time: the request's parsing, routing and answer on the
# event loop, which the thread's clock does not see.
REQUEST_OVERHEAD = 0.001


class CpuShare:
    """The bucket of one pool of reads; `busy()` says whether the checks have work now."""

    def __init__(self, busy: Callable[[], bool], share: float = SHARE, burst: float = BURST):
        self.busy, self.share, self.burst = busy, share, burst
        self._lock = threading.Lock()
        self._tokens, self._stamp = burst, time.monotonic()
        self._turn: asyncio.Lock | None = None  # created on the event loop that uses it

    def _refill(self) -> float:
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.share)
        self._stamp = now
        return self._tokens

    def charge(self, seconds: float) -> None:
        with self._lock:
            self._refill()
            self._tokens -= seconds + REQUEST_OVERHEAD

    def wait_seconds(self) -> float:
        """0 when a read may start now, else how long until the bucket has refilled enough."""
        with self._lock:
            tokens = self._refill()
        if tokens > 0 or not self.busy():
            return 0.0
        return -tokens / self.share + 1e-3

    async def turn(self, seconds: float):
        """Wait for this read's turn (one paced read at a time); the lock to hold while it runs,
        or None when nothing is paced now. TimeoutError past `seconds`."""
        if not self.busy():
            return None
        if self._turn is None:
            self._turn = asyncio.Lock()
        turn = self._turn
        deadline = time.monotonic() + seconds
        await asyncio.wait_for(turn.acquire(), seconds)
        try:
            await self.allowed(deadline - time.monotonic())
        except BaseException:
            turn.release()
            raise
        return turn

    async def allowed(self, seconds: float) -> None:
        """Return once work may start (the bucket not empty, or nothing else busy); TimeoutError
        when that is more than `seconds` away."""
        deadline = time.monotonic() + seconds
        while (wait := self.wait_seconds()) > 0:
            if time.monotonic() + wait > deadline:
                raise TimeoutError
            await asyncio.sleep(wait)

    def metered(self, function: Callable) -> Callable:
        """`function`, its thread's CPU time charged to the bucket when it returns or raises."""

        def run(*args):
            start = time.thread_time()
            try:
                return function(*args)
            finally:
                self.charge(time.thread_time() - start)

        return run


__all__ = ["BURST", "LARGE_BODY_SHARE", "SHARE", "CpuShare"]
