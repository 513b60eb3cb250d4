"""The bounded worker pool of the service: checks run off the event loop, in at most
`threads` threads, with at most `queue` waiting; one more is refused at once (`Busy`, 503)
instead of joining an unbounded backlog."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor


class Busy(RuntimeError):
    """Every thread is checking and the queue is full: try again later."""


class CheckTimeout(RuntimeError):
    """A check ran past the time allowed to one request."""


class CheckPool:
    def __init__(self, threads: int, queue: int):
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="refbp-check")
        self.slots = threading.BoundedSemaphore(threads + queue)

    async def run(self, function, *args, seconds: float):
        """`function(*args)` in a worker thread; Busy when no slot is free, CheckTimeout past `seconds`
        (a check already running finishes in its thread, and frees its slot then)."""
        if not self.slots.acquire(blocking=False):
            raise Busy("every worker is busy and the queue is full")
        try:
            future = self.executor.submit(function, *args)
        except BaseException:
            self.slots.release()
            raise
        future.add_done_callback(lambda _: self.slots.release())
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), seconds)
        except asyncio.TimeoutError:
            raise CheckTimeout(f"the check did not finish within {seconds:g} s") from None

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
