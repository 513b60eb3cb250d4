"""Nothing acknowledged is lost, nothing lost is acknowledged, on real processes: `refbp serve`
refuses a store it cannot write; a store that stops taking writes while the server runs (a real
PostgreSQL server turned read-only) gives 503 with the verdict marked not stored, and /readyz
says so while /healthz stays up; with --workers 2, a kill -9 of the server's own process takes
its workers with it, and the port is free for a new server; a worker killed by SIGBUS is
replaced by the supervisor."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import psutil
import sqlalchemy as sa

from refbp.bench.service import result_document
from refbp.service.process import free_port, serving
from refbp.store import open_store
from service_server import AUTH, TOKEN

JSON = {"content-type": "application/json", **AUTH}
SEED = ("--cases", "cases/seed")


def test_serve_refuses_a_store_it_cannot_write(tmp_path):
    path = tmp_path / "verdicts.sqlite"
    open_store(f"sqlite:///{path}").engine.dispose()
    read_only = f"sqlite:///file:{path}?mode=ro&uri=true"  # read-only even for root, unlike chmod
    done = subprocess.run(
        [sys.executable, "-m", "refbp", "serve", "--port", str(free_port()), *SEED, "--database", read_only],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot be written" in lines[0] and "readonly" in lines[0], done.stderr
    assert "Traceback" not in done.stderr


def read_only(url: str, on: bool) -> None:
    """The database takes no write from new sessions (or takes them again); its sessions are ended,
    so the server's pool reconnects into the new setting."""
    database = sa.make_url(url).database
    engine = sa.create_engine(sa.make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        setting = "SET default_transaction_read_only = on" if on else "RESET default_transaction_read_only"
        connection.execute(sa.text(f'ALTER DATABASE "{database}" {setting}'))
        connection.execute(
            sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": database},
        )
    engine.dispose()


def test_a_store_that_stops_taking_writes_gives_503_with_the_verdict_and_readyz_says_so(postgres_url, tmp_path):
    correct = json.dumps(result_document("seed-2-2-2"))
    environment = {"REFBP_DATABASE_URL": postgres_url, "REFBP_TOKEN": TOKEN}
    with (
        serving(SEED, environment, log=tmp_path / "serve.log") as (base, _process),
        httpx.Client(base_url=base, timeout=60) as client,
    ):
        assert client.get("/readyz").status_code == 200
        read_only(postgres_url, True)
        try:
            answer = client.post("/v1/verify", content=correct, headers=JSON)
            assert answer.status_code == 503, answer.text
            body = answer.json()
            assert body["stored"] is False and "cannot be written" in body["detail"] and "read-only" in body["detail"]
            assert body["answer"]["format"] == "refbp-verdict/1" and body["answer"]["passed"] is True
            assert answer.headers["x-refbp-stored"] == "false" and "x-refbp-run" not in answer.headers
            ready = client.get("/readyz")
            assert ready.status_code == 503 and "cannot be written" in ready.json()["detail"]
            assert client.get("/healthz").status_code == 200  # alive, only not ready
        finally:
            read_only(postgres_url, False)
        assert client.get("/readyz").status_code == 200
        stored = client.post("/v1/verify", content=correct, headers=JSON)
        assert stored.status_code == 200 and stored.headers["x-refbp-run"]
    assert "Traceback" not in (tmp_path / "serve.log").read_text()


def gone(pids, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        alive = [pid for pid in pids if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
        if not alive:
            return True
        time.sleep(0.2)
    return False


def serving_workers(process) -> list[int]:
    """The pids of uvicorn's worker processes (its children that run the app, not its helpers)."""
    pids = []
    for child in psutil.Process(process.pid).children():
        try:
            if child.status() != psutil.STATUS_ZOMBIE and "resource_tracker" not in " ".join(child.cmdline()):
                pids.append(child.pid)
        except psutil.Error:  # it ended while it was looked at
            pass
    return sorted(pids)


def test_a_dead_worker_is_replaced_and_workers_die_with_a_server_killed_by_sigkill(tmp_path):
    port = free_port()
    environment = {"REFBP_DATABASE_URL": f"sqlite:///{tmp_path / 'verdicts.sqlite'}"}
    with serving(("--workers", "2", *SEED), environment, log=tmp_path / "first.log", port=port, start_seconds=180) as (
        base,
        process,
    ):
        workers = serving_workers(process)
        assert len(workers) == 2
        os.kill(workers[0], signal.SIGBUS)  # as a store file truncated under its memory map would
        assert gone(workers[:1], 30)
        deadline = time.monotonic() + 120
        while len(serving_workers(process)) < 2 and time.monotonic() < deadline:
            time.sleep(0.5)
        workers = serving_workers(process)
        assert len(workers) == 2 and workers[0] != workers[1], "the supervisor did not replace a dead worker"
        assert httpx.get(f"{base}/healthz", timeout=30).status_code == 200
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        assert gone(workers, 30), "orphaned workers still run after their server was killed"
    with socket.socket() as restart:  # a new server binds as uvicorn does: the port is free again
        restart.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        restart.bind(("127.0.0.1", port))
