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
    assert Settings.from_variable() == Settings(
        limits=settings.limits, case_paths=("cases/seed",), token="from-the-environment"
    )


def test_reads_need_a_token_only_where_the_deployment_says_so(tmp_path, monkeypatch):
    """Bound beyond 127.0.0.1 (`reads_need_token`): reads take the read or the write token, as a
    bearer token or HTTP Basic's password; writes take only the write token; health is open."""
    import base64

    from refbp.cases import SUITE_DIR

    settings = Settings(
        case_paths=(str(SUITE_DIR / "seed"),),
        database=f"sqlite:///{tmp_path / 's.sqlite'}",
        token="write-token",
        read_token="read-token",
        reads_need_token=True,
    )
    app = create_app(settings)

    async def ask(method, path, authorization=None):
        headers = {"content-type": "application/json"} | ({"Authorization": authorization} if authorization else {})
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            return await client.request(method, path, headers=headers, content="{}" if method == "POST" else None)

    def status(*args):
        return asyncio.run(ask(*args)).status_code

    basic = "Basic " + base64.b64encode(b"anyone:read-token").decode()
    assert status("GET", "/v1/runs") == 401
    assert asyncio.run(ask("GET", "/")).headers["www-authenticate"].startswith("Basic")
    assert [status("GET", "/v1/runs", a) for a in ("Bearer read-token", "Bearer write-token", basic)] == [200] * 3
    assert status("GET", "/v1/runs", "Bearer wrong") == 401
    assert status("POST", "/v1/verify", "Bearer read-token") == 401
    assert status("POST", "/v1/verify", "Bearer write-token") == 422  # in: an empty result is not of the formats
    assert status("GET", "/healthz") == 200 and status("GET", "/readyz") == 200


@pytest.mark.parametrize(
    "header, host",
    [
        ("127.0.0.1:8000", "127.0.0.1"),
        ("[::1]:8000", "::1"),
        ("::1", "::1"),
        ("LocalHost", "localhost"),
        ("evil.example:80", "evil.example"),
    ],
)
def test_the_host_of_a_host_header(header, host):
    from refbp.service.guards import host_of

    assert host_of(header) == host


def test_serve_beyond_this_machine_needs_a_token(monkeypatch, capsys):
    from refbp.cli import main

    monkeypatch.delenv("REFBP_TOKEN", raising=False)
    assert main(["serve", "--host", "0.0.0.0", "--port", "8000"]) == 2
    assert "needs REFBP_TOKEN" in capsys.readouterr().err
