"""The reads' share of a core while checks run (refbp.service.pace): a read's CPU time is charged,
a spent share holds the next read while the check pool has work and never while it has none, a
read that cannot start within its time is refused (Busy: 503), and a readiness probe is never held.
The share's effect on verify under a compare flood is measured by `python -m
refbp.bench.service_attack` (docs/service.md), not asserted here."""

from __future__ import annotations

import asyncio
import time

import pytest

from refbp.service.pace import CpuShare
from refbp.service.pool import Busy, CheckPool


def spin(seconds: float) -> float:
    """Burn `seconds` of this thread's CPU time."""
    start = time.thread_time()
    while time.thread_time() - start < seconds:
        pass
    return seconds


def test_a_spent_share_holds_reads_only_while_checks_run():
    checks_busy = [True]
    share = CpuShare(busy=lambda: checks_busy[0], share=0.5, burst=0.1)
    assert share.wait_seconds() == 0.0  # the burst is there
    share.charge(0.3)  # 0.2 s of CPU beyond the burst (and the request's overhead)
    wait = share.wait_seconds()
    assert 0.3 < wait < 0.5, wait  # the deficit refills at half a second a second
    checks_busy[0] = False
    assert share.wait_seconds() == 0.0  # nothing to protect: reads go at once


def test_metered_work_is_charged_its_thread_time():
    share = CpuShare(busy=lambda: True, share=1.0, burst=1.0)
    assert share.metered(spin)(0.05) == 0.05
    with share._lock:
        tokens = share._refill()
    assert tokens < 1.0 - 0.04  # charged at least the 0.05 s spun (less the refill meanwhile)


def test_reads_wait_their_turn_then_are_refused_past_their_time():
    async def scenario():
        pool = CheckPool(threads=2, queue=4, name="refbp-read")
        pool.pace = CpuShare(busy=lambda: True, share=0.01, burst=0.0)
        try:
            pool.pace.charge(1.0)  # a hundred seconds of refill owed
            with pytest.raises(Busy, match="share"):
                await pool.run(spin, 0.001, seconds=0.2)
            assert pool.taken == 0 and pool.slots.acquire(blocking=False)  # the refused read freed its slot
            pool.slots.release()
            # A readiness probe is not a read to pace: it runs at once.
            assert await pool.run(spin, 0.001, seconds=5, paced=False) == 0.001
        finally:
            pool.close()

    asyncio.run(scenario())


def test_a_read_within_its_share_is_not_held():
    async def scenario():
        pool = CheckPool(threads=2, queue=4, name="refbp-read")
        pool.pace = CpuShare(busy=lambda: True, share=0.05, burst=1.0)
        try:
            for _ in range(3):
                assert pool.pace.wait_seconds() == 0.0  # the next read may start now
                assert await pool.run(spin, 0.01, seconds=5) == 0.01
            assert pool.pace.wait_seconds() == 0.0  # 0.03 s (and 3 overheads) of a 1 s burst spent
        finally:
            pool.close()

    asyncio.run(scenario())


def test_a_large_body_waits_for_its_lane_and_its_share_then_is_refused_past_its_time():
    from refbp.service.verify_route import large_turn

    async def scenario():
        pool = CheckPool(threads=2, queue=4)
        try:
            lane = pool.large_lane
            assert lane.acquire(blocking=False)  # a large body being checked

            async def release_soon():
                await asyncio.sleep(0.2)
                lane.release()

            releasing = asyncio.create_task(release_soon())
            await large_turn(pool, lane, seconds=10)  # waited, not refused: the lane is ours now
            await releasing
            with pytest.raises(Busy, match="large body"):
                await large_turn(pool, lane, seconds=0.1)  # still ours: the next one gives up
            lane.release()
            # The large bodies' share, spent while checks run: held, then refused past its time.
            pool.large_pace = CpuShare(busy=lambda: True, share=0.01, burst=0.0)
            pool.large_pace.charge(1.0)
            with pytest.raises(Busy, match="share"):
                await large_turn(pool, lane, seconds=0.2)
            assert lane.acquire(blocking=False)  # the refused body gave its lane back
            lane.release()
        finally:
            pool.close()

    asyncio.run(scenario())
