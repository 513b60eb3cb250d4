"""The service under attack and under faults, on loopback: what issue 26 did to it, repeated.

    python -m refbp.bench.service_attack [--quick]

A `refbp serve --workers 2` (--workers) on a SQLite store filled with --runs runs. Phases, each for
--seconds, with --clients clients posting a correct result to /v1/verify (verify req/s and
p99 are measured in each):
  baseline      nothing else;
  compare+idle  8 clients flooding /v1/compare with 12 runs, and 1,000 idle sockets held open
                (re-opened as the server closes them);
  large bodies  8 clients posting 7 MB bodies (read and parsed, one at a time per two check threads,
                then refused: 422; those that find that lane busy: 503 at once).
--rounds rounds of the three, interleaved (each attack against its round's baseline): the table
gives each phase's medians over the rounds, and verify's throughput and share as ranges.
The attackers run in a process of their own, so that they slow the server, not the measuring
clients' event loop.
Then --kills rounds of kill -9 (refbp.bench.service_kills): clients post with an Idempotency-Key each, the server is
killed mid-load, restarted on the same store; then SQLite's integrity check, the acknowledged
verdicts (answers of 200) that are missing from the store, and after retrying every request
with its key, the keys with more than one run (duplicates). One line per phase and round.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import random
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import pandas as pd

from refbp.serving import free_port, serving

from .service import result_document, server_memory
from .service_kills import after_the_kill, load_and_kill, wait_for_port
from .service_store import fill_store

JSON = {"content-type": "application/json"}
FLOODERS = 8
IDLE_SOCKETS = 1000
LARGE_BYTES = 7 << 20  # bytes of JSON per body: the 7.3 MB bodies of issue 26


class Verifying:
    """`clients` clients posting `body` to /v1/verify until stopped: latencies of the 200s."""

    def __init__(self, base: str, body: bytes, clients: int):
        self.base, self.body, self.clients = base, body, clients
        self.latencies: list[float] = []
        self.other = 0

    async def run(self, seconds: float) -> None:
        deadline = time.perf_counter() + seconds
        limits = httpx.Limits(max_connections=self.clients)
        async with httpx.AsyncClient(base_url=self.base, limits=limits, timeout=60) as client:

            async def one():
                while time.perf_counter() < deadline:
                    start = time.perf_counter()
                    try:
                        answer = await client.post("/v1/verify", content=self.body, headers=JSON)
                    except httpx.HTTPError:
                        self.other += 1
                        continue
                    if answer.status_code == 200:
                        self.latencies.append(time.perf_counter() - start)
                    else:
                        self.other += 1

            await asyncio.gather(*(one() for _ in range(self.clients)))


async def flood(base: str, path: str, clients: int, seconds: float, body: bytes | None = None) -> int:
    """`clients` clients asking `path` (GET, or POST of `body`) as fast as answered; answers counted."""
    deadline, answered = time.perf_counter() + seconds, 0
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=httpx.Limits(max_connections=clients)) as client:

        async def one():
            nonlocal answered
            while time.perf_counter() < deadline:
                try:
                    if body is None:
                        await client.get(path)
                    else:
                        await client.post(path, content=body, headers=JSON)
                    answered += 1
                except httpx.HTTPError:
                    pass

        await asyncio.gather(*(one() for _ in range(clients)))
    return answered


def hold_idle_sockets(base: str, count: int, stop: threading.Event) -> None:
    """Keep `count` connections open that send nothing (re-opened as the server closes them)."""
    host, port = base.removeprefix("http://").split(":")
    held: list[socket.socket] = []
    while not stop.is_set():
        while len(held) < count and not stop.is_set():
            try:
                held.append(socket.create_connection((host, int(port)), timeout=5))
            except OSError:
                break
        stop.wait(0.5)
        alive = []
        for sock in held:
            sock.setblocking(False)
            try:
                closed = sock.recv(1) == b""
            except BlockingIOError:
                closed = False
            except OSError:
                closed = True
            if closed:
                sock.close()
            else:
                alive.append(sock)
        held = alive
    for sock in held:
        sock.close()


def attacking(
    kind: str, answered, base: str, seconds: float, path: str = "", body: bytes = b"", idle_sockets: int = 0
) -> None:
    """An attacker's process: it shares no event loop, thread or core time with the measuring clients.
    `answered` (a shared integer) receives the count of its requests answered."""
    if kind == "compare+idle":
        stop = threading.Event()
        idle = threading.Thread(target=hold_idle_sockets, args=(base, idle_sockets, stop), daemon=True)
        idle.start()
        answered.value = asyncio.run(flood(base, path, FLOODERS, seconds))
        stop.set()
        idle.join()
    elif kind == "large":
        answered.value = asyncio.run(flood(base, "/v1/verify", FLOODERS, seconds, body))


def phase(name: str, base: str, body: bytes, clients: int, seconds: float, attack: tuple = ()) -> dict:
    verifying = Verifying(base, body, clients)
    attacker = None
    context = multiprocessing.get_context("fork")
    answered = context.Value("q", -1)
    if attack:
        attacker = context.Process(target=attacking, args=(attack[0], answered, base, seconds, *attack[1:]))
        attacker.start()
        time.sleep(1.0)  # the attack under way before the measurement starts
    try:
        asyncio.run(verifying.run(seconds))
    finally:
        if attacker is not None:
            attacker.join(timeout=seconds + 60)
            if attacker.is_alive():
                attacker.kill()
    ms = sorted(1e3 * t for t in verifying.latencies)
    return {
        "phase": name,
        "verify_per_s": len(ms) / seconds,
        "p50_ms": statistics.median(ms) if ms else float("nan"),
        "p99_ms": ms[min(len(ms) - 1, int(0.99 * len(ms)))] if ms else float("nan"),
        "verify_not_200": verifying.other,
        # the attackers' requests answered per second (any status), over their own --seconds
        "attack_answered_per_s": answered.value / seconds if answered.value >= 0 else float("nan"),
    }


def summarized(measured: list[dict]) -> list[dict]:
    """One row per phase over the rounds: the medians, and verify's throughput and share of the
    round's baseline as ranges (min-max)."""
    rows = []
    for name in dict.fromkeys(row["phase"] for row in measured):
        of = [row for row in measured if row["phase"] == name]

        def median(column: str, of=of) -> float:
            return statistics.median(row.get(column, float("nan")) for row in of)

        def spread(column: str, of=of) -> str:
            return f"{min(row[column] for row in of):.0f}-{max(row[column] for row in of):.0f}"

        rows.append(
            {
                "phase": name,
                "rounds": len(of),
                "verify_per_s": median("verify_per_s"),
                "verify_range": spread("verify_per_s"),
                "of_baseline_pct": median("of_baseline_pct"),
                "of_baseline_range": spread("of_baseline_pct"),
                "p50_ms": median("p50_ms"),
                "p99_ms": median("p99_ms"),
                "p99_max_ms": max(row["p99_ms"] for row in of),
                "verify_not_200": sum(row["verify_not_200"] for row in of),
                "attack_answered_per_s": median("attack_answered_per_s"),
                "server_rss_mb": median("server_rss_mb"),
            }
        )
    return rows


def run(
    runs: int,
    clients: int,
    seconds: float,
    kills: int,
    workers: int = 2,
    idle_sockets: int = IDLE_SOCKETS,
    large_bytes: int = LARGE_BYTES,
    rounds: int = 1,
) -> pd.DataFrame:
    correct = result_document("seed-2-2-2")
    body = json.dumps(correct).encode()
    # About large_bytes of JSON ("0.0, " is 5 bytes a number): under --max-body-mb's 8 MiB, so each
    # is read and parsed, then refused by the million-number limit (422) when it holds more.
    large = json.dumps(
        {"format": "refbp-result/1", "case": "seed-2-2-2", "outputs": [0.0] * (large_bytes // 5)}
    ).encode()
    rows = []
    with tempfile.TemporaryDirectory(prefix="refbp-attack-") as name:
        folder = Path(name)
        url = f"sqlite:///{folder / 'verdicts.sqlite'}"
        from refbp.store import open_store

        store = open_store(url)
        ids = fill_store(store, runs)
        store.engine.dispose()
        compare = "/v1/compare?runs=" + ",".join(random.Random(0).sample(ids, 12))
        arguments, environment = ["--workers", str(workers), "--cases", "cases/seed"], {"REFBP_DATABASE_URL": url}
        port = free_port()
        with contextlib.ExitStack() as servers:
            base, process = servers.enter_context(
                serving(arguments, environment, log=folder / "serve.log", start_seconds=180, port=port)
            )
            asyncio.run(Verifying(base, body, clients).run(min(seconds, 5)))  # warm-up
            attacks = {
                f"compare flood + {idle_sockets:,} idle sockets": ("compare+idle", compare, b"", idle_sockets),
                f"{len(large) / 2**20:.0f} MB bodies": ("large", "", large),
            }
            measured = []
            # Interleaved: each round measures the baseline and then each attack, so that a change in
            # the machine's load shows as a range, not as an attack's cost.
            for _ in range(rounds):
                baseline = phase("baseline", base, body, clients, seconds)
                baseline["server_rss_mb"] = server_memory(process) / 2**20
                baseline["of_baseline_pct"] = 100.0
                measured.append(baseline)
                for name, attack in attacks.items():
                    measured.append(phase(name, base, body, clients, seconds, attack))
                    measured[-1]["of_baseline_pct"] = 100 * measured[-1]["verify_per_s"] / baseline["verify_per_s"]
                time.sleep(2)  # the last large bodies finish
            rows.extend(summarized(measured))
            rows[-1]["server_rss_mb"] = server_memory(process) / 2**20
            rows[-1]["healthy_after"] = httpx.get(f"{base}/healthz", timeout=30).status_code == 200

            def body_of(key: str) -> bytes:
                return json.dumps(dict(correct, implementation=f"attack {key}")).encode()

            # Each round kills the server under load and restarts it on the same store and port; the
            # restarted server takes the retries, and is the one the next round kills.
            for round_ in range(kills):
                acknowledged, sent = load_and_kill(base, process, body_of, clients, seconds, round_)
                wait_for_port(port)  # the workers die with the server (refbp.service.lifeline), not at once
                base, process = servers.enter_context(
                    serving(arguments, environment, port=port, start_seconds=180, log=folder / f"restart{round_}.log")
                )
                rows.append(after_the_kill(base, url, body_of, acknowledged, sent, round_))
    return pd.DataFrame(rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=50_000, help="runs in the store (default 50,000)")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20.0, help="each phase's length (default 20)")
    parser.add_argument("--kills", type=int, default=5, help="kill -9 rounds (default 5)")
    parser.add_argument("--workers", type=int, default=2, help="server processes (default 2)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="baseline-then-attacks rounds, interleaved; medians and ranges (default 3)",
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2,000 runs, 4 clients, 3 s, 1 round, 1 kill")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.clients, args.seconds, args.kills, args.rounds = 2000, 4, 3.0, 1, 1
    frame = run(args.runs, args.clients, args.seconds, args.kills, args.workers, rounds=args.rounds)
    print(frame.round(1).to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
