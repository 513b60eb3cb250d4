"""The kill -9 rounds of `python -m refbp.bench.service_attack`: clients post with an
Idempotency-Key each while the server is killed part way through; on the restarted server every
request sent is retried with its key, then the store is checked (SQLite's integrity check, the
acknowledged verdicts missing, the keys stored more than once)."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import threading
import time

import httpx
import sqlalchemy as sa

JSON = {"content-type": "application/json"}


def load_and_kill(base: str, process, body_of, clients: int, seconds: float, round_: int):
    """Clients post with a key each until the server is killed (kill -9, part way through
    `seconds`): (the keys acknowledged with their run ids, every key sent)."""
    acknowledged: dict[str, str] = {}
    issued = iter([f"round{round_}-{i}" for i in range(100_000)])
    sent: list[str] = []

    async def post_until_gone():
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:

            async def one():
                for key in issued:
                    sent.append(key)
                    try:
                        answer = await client.post(
                            "/v1/verify", content=body_of(key), headers={**JSON, "Idempotency-Key": key}
                        )
                    except httpx.HTTPError:
                        return  # the server is gone
                    if answer.status_code == 200:
                        acknowledged[key] = answer.headers["x-refbp-run"]

            await asyncio.gather(*(one() for _ in range(clients)))

    killer = threading.Timer(
        seconds * random.Random(round_).uniform(0.4, 0.9), lambda: os.kill(process.pid, signal.SIGKILL)
    )
    killer.start()
    asyncio.run(post_until_gone())
    killer.join()
    return acknowledged, sent


def after_the_kill(base: str, url: str, body_of, acknowledged: dict, sent: list, round_: int) -> dict:
    """On the restarted server: every key sent retried, then the store checked."""

    async def retry_all():
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            for key in sent:
                await client.post("/v1/verify", content=body_of(key), headers={**JSON, "Idempotency-Key": key})

    asyncio.run(retry_all())
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        integrity = connection.exec_driver_sql("PRAGMA integrity_check").scalar()
        stored: dict[str, int] = dict(
            connection.execute(
                sa.text("SELECT key, run_id FROM idempotency WHERE key LIKE :round"), {"round": f"round{round_}-%"}
            ).all()
        )
        per_key = connection.execute(
            sa.text(
                "SELECT implementation, COUNT(*) FROM runs WHERE implementation LIKE :round GROUP BY implementation "
                "HAVING COUNT(*) > 1"
            ),
            {"round": f"attack round{round_}-%"},
        ).all()
    engine.dispose()
    lost = [key for key, run in acknowledged.items() if stored.get(key) != run]
    return {
        "phase": f"kill -9 round {round_ + 1}",
        "sent": len(sent),
        "acknowledged": len(acknowledged),
        "acknowledged_lost": len(lost),
        "duplicates_after_retry": len(per_key),
        "retried_and_stored": sum(key in stored for key in sent),
        "integrity": integrity,
    }


def wait_for_port(port: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: TIME_WAIT is no obstacle
            try:
                probe.bind(("127.0.0.1", port))
                return
            except OSError:
                time.sleep(0.2)
