"""The service's parts in process: the bounded pool (Busy when full, CheckTimeout past its
time, slots freed after), CORS only for configured origins, the settings handed to workers."""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest

from refbp.service.app import create_app
from refbp.service.body import BodyProblem, check_sizes
from refbp.service.pool import Busy, CheckPool, CheckTimeout
from refbp.service.settings import Limits, Settings


def test_a_full_pool_refuses_at_once_and_frees_its_slots():
    pool = CheckPool(threads=1, queue=1)
    release = threading.Event()

    async def scenario():
        running = asyncio.ensure_future(pool.run(release.wait, seconds=10))
        waiting = asyncio.ensure_future(pool.run(lambda: "second", seconds=10))
        await asyncio.sleep(0.05)
        with pytest.raises(Busy):
            await pool.run(lambda: "third", seconds=10)
        release.set()
        assert await running is True and await waiting == "second"
        assert await pool.run(lambda: "again", seconds=10) == "again"
        with pytest.raises(CheckTimeout):
            await pool.run(threading.Event().wait, 0.3, seconds=0.1)

    asyncio.run(scenario())
    pool.close()


def test_sizes_are_checked_before_any_judging():
    limits = Limits(max_results=2, max_parameters=1, max_entries=3)
    with pytest.raises(BodyProblem, match=r"results\[0\]\.grads\.b: more than the limit of 3"):
        check_sizes({"results": [{"grads": {"b": [[1, 2], [3, 4]]}}]}, limits)
    with pytest.raises(BodyProblem, match="params_after: 2 tensors"):
        check_sizes({"params_after": {"a": 1, "b": 2}}, limits)
    check_sizes({"grads": {"b": [[1], [2]]}, "outputs": [3]}, limits)
    with pytest.raises(BodyProblem, match=r"error_signals\.e: more than the limit of 3 numbers in one result"):
        check_sizes({"grads": {"b": [[1], [2]]}, "error_signals": {"e": [3, 4]}}, limits)


def test_cors_only_for_the_configured_origins():
    app = create_app(Settings(cors_origins=("http://allowed.example",)))

    async def ask(origin):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            return await client.get("/healthz", headers={"Origin": origin})

    allowed, other = asyncio.run(ask("http://allowed.example")), asyncio.run(ask("http://other.example"))
    assert allowed.headers["access-control-allow-origin"] == "http://allowed.example"
    assert "access-control-allow-origin" not in other.headers


def test_settings_reach_the_worker_processes_without_the_token(monkeypatch):
    settings = Settings(limits=Limits(max_body_bytes=123, threads=3), case_paths=("cases/seed",), token="secret")
    monkeypatch.setenv("REFBP_SERVE_SETTINGS", settings.to_environment())
    monkeypatch.setenv("REFBP_TOKEN", "from-the-environment")
    assert "secret" not in settings.to_environment()
    assert Settings.from_variable() == Settings(limits=settings.limits, case_paths=("cases/seed",),
                                                token="from-the-environment")
