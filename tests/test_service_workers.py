"""`refbp serve --workers 2` on a real process: a burst of keep-alive clients is spread over both
workers (each listens on a socket of its own, refbp.service.workers), where with one shared
socket the first worker to wake took every connection and the other idled."""

from __future__ import annotations

import asyncio
import socket
import time

import httpx
import psutil
import pytest

from refbp.service.workers import WorkerSocket, bound, spreads
from refbp.serving import serving

pytestmark = pytest.mark.skipif(not spreads(), reason="SO_REUSEPORT spreads connections on Linux only")


def connections_per_worker(process, port: int, status: str = "ESTABLISHED") -> list[int]:
    counts = []
    for child in psutil.Process(process.pid).children():
        try:
            if "resource_tracker" in " ".join(child.cmdline()):
                continue
            counts.append(sum(c.status == status and c.laddr.port == port for c in child.net_connections()))
        except psutil.Error:  # it ended while it was looked at
            pass
    return sorted(counts)


def both_listening(process, port: int, seconds: float = 180) -> bool:
    """The server answers once its first worker is up; the second may still be loading."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if connections_per_worker(process, port, "LISTEN") == [1, 1]:
            return True
        time.sleep(0.5)
    return False


def test_a_burst_of_keep_alive_clients_lands_on_both_workers(tmp_path):
    environment = {"REFBP_DATABASE_URL": "none"}
    with serving(
        ("--workers", "2", "--cases", "cases/seed"), environment, log=tmp_path / "serve.log", start_seconds=180
    ) as (base, process):
        port = int(base.rsplit(":", 1)[1])
        assert both_listening(process, port), connections_per_worker(process, port, "LISTEN")

        async def burst():
            limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
            async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
                # 16 at once open 16 connections; held open (keep-alive) while they are counted
                answers = await asyncio.gather(*(client.get("/healthz") for _ in range(16)))
                assert all(a.status_code == 200 for a in answers)
                await asyncio.sleep(0.5)
                return await asyncio.to_thread(connections_per_worker, process, port)

        counts = asyncio.run(burst())
    # 16 connections hashed over two sockets all land on one with probability 2 / 2**16.
    assert len(counts) == 2 and counts[0] >= 1 and sum(counts) == 16, counts


def test_the_supervisors_socket_becomes_a_new_one_in_each_worker():
    import pickle

    first = bound(socket.AF_INET, ("127.0.0.1", 0))
    try:
        address = first.getsockname()
        copy = pickle.loads(pickle.dumps(first))  # what a worker process gets
        try:
            assert isinstance(copy, WorkerSocket) and copy.fileno() != first.fileno()
            assert copy.getsockname() == address
            assert copy.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
            copy.listen(8)
            with socket.create_connection(address, timeout=5):
                time.sleep(0.1)
                accepted, _ = copy.accept()  # the supervisor's own socket never listens: the worker's takes it
                accepted.close()
        finally:
            copy.close()
    finally:
        first.close()
