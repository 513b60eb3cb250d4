"""`refbp bench service`: the verification service under load, on loopback.

A `refbp serve` process (its own SQLite store in a temporary folder) is started on
127.0.0.1; `clients` concurrent clients (one asyncio loop, httpx, a connection each) POST a
correct refbp-result/1 of one case to /v1/verify, each the next as soon as the last was
answered, until `requests` requests are answered or `seconds` have passed. Rows: requests/s,
p50 and p99 latency, answers other than 200, the resident memory of the server's
processes (all of uvicorn's workers) after a warm-up and again after the requests, and the
CPU time per request of the server and of the clients (on a shared machine the clock
figures depend on the others' load; the CPU times much less).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd
import psutil

from refbp.cases import SUITE_DIR, load_case
from refbp.check.results import answer_document
from refbp.nn import compute_trace
from refbp.serving import serving

from .common import BenchUsageError, timing_environment

TITLE = "refbp bench service: POST /v1/verify on loopback (latencies in milliseconds)"
# Requests before the memory is first read: each server process loads the references' code
# and fills its caches on its first requests, which is start-up, not growth.
WARMUP = 1000
GOALS = {"requests_per_s": 200.0, "p99_ms": 250.0, "rss_growth_pct": 10.0}


@dataclass(frozen=True)
class Options:
    clients: int = 16
    requests: int = 10_000  # requests answered after the warm-up (the memory is compared over them)
    seconds: float = 180.0  # the most the measured phase may last
    workers: int = 2  # server processes
    threads: int = 2  # checks at once per server process
    case: str = "seed-2-2-2"
    quick: bool = False  # 4 clients, 100 requests, one server process (a smoke run)

    def effective(self) -> Options:
        if not self.quick:
            return self
        return Options(
            clients=min(self.clients, 4),
            requests=min(self.requests, 100),
            seconds=min(self.seconds, 60),
            workers=1,
            threads=self.threads,
            case=self.case,
        )


def result_document(case_id: str) -> dict:
    """A correct refbp-result/1 of the case: refbp's own outputs, loss, gradients and training."""
    found = list(SUITE_DIR.rglob(f"{case_id}.json"))
    if len(found) != 1:
        raise BenchUsageError(f"--case: no case {case_id!r} in the installed suite")
    case = load_case(found[0])
    return answer_document(case.id, "refbp bench service", compute_trace(case))


def _tree(process) -> list:
    root = psutil.Process(process.pid)
    return [root, *root.children(recursive=True)]


def server_memory(process) -> int:
    """Resident bytes of the server process and its children (uvicorn's workers)."""
    try:
        return sum(p.memory_info().rss for p in _tree(process))
    except psutil.Error:
        return 0


def cpu_seconds(processes) -> float:
    """User + system CPU seconds of the processes so far."""
    try:
        return sum(sum(p.cpu_times()[:2]) for p in processes)
    except psutil.Error:
        return float("nan")


async def load(base: str, body: bytes, clients: int, requests: int, seconds: float) -> tuple[list[float], dict]:
    """Latencies (s) of the answered requests, and the count of each status."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    deadline = time.perf_counter() + seconds
    issued = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30.0) as client:

        async def one_client():
            nonlocal issued
            while issued < requests and time.perf_counter() < deadline:
                issued += 1
                start = time.perf_counter()
                response = await client.post("/v1/verify", content=body, headers={"content-type": "application/json"})
                latencies.append(time.perf_counter() - start)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        await asyncio.gather(*(one_client() for _ in range(clients)))
    return latencies, statuses


def run(options: Options) -> pd.DataFrame:
    options = options.effective()
    if options.clients < 1 or options.requests < 1 or options.workers < 1:
        raise BenchUsageError("--clients, --requests and --workers must be at least 1")
    body = json.dumps(result_document(options.case)).encode()
    with tempfile.TemporaryDirectory(prefix="refbp-bench-service-") as folder:
        store = {"REFBP_DATABASE_URL": f"sqlite:///{Path(folder) / 'verdicts.sqlite'}"}
        arguments = ["--workers", str(options.workers), "--threads", str(options.threads)]
        with serving(arguments, store, log=Path(folder) / "serve.log") as (base, process):
            asyncio.run(load(base, body, options.clients, min(WARMUP, options.requests), options.seconds))
            load_before = os.getloadavg()[0]
            rss_before = server_memory(process)
            servers, client = _tree(process), psutil.Process()
            server_cpu, client_cpu = cpu_seconds(servers), cpu_seconds([client])
            start = time.perf_counter()
            latencies, statuses = asyncio.run(load(base, body, options.clients, options.requests, options.seconds))
            elapsed = time.perf_counter() - start
            server_cpu, client_cpu = cpu_seconds(servers) - server_cpu, cpu_seconds([client]) - client_cpu
            rss_after = server_memory(process)
            healthy = httpx.get(f"{base}/healthz", timeout=10).status_code == 200
    ms = sorted(1e3 * t for t in latencies)
    return pd.DataFrame(
        [
            {
                "case": options.case,
                "clients": options.clients,
                "workers": options.workers,
                "threads": options.threads,
                "requests": len(ms),
                "not_200": sum(n for status, n in statuses.items() if status != 200),
                "seconds": elapsed,
                "requests_per_s": len(ms) / elapsed if elapsed else float("nan"),
                "p50_ms": statistics.median(ms) if ms else float("nan"),
                "p99_ms": ms[min(len(ms) - 1, int(0.99 * len(ms)))] if ms else float("nan"),
                "max_ms": ms[-1] if ms else float("nan"),
                "rss_before_mb": rss_before / 2**20,
                "rss_after_mb": rss_after / 2**20,
                "rss_growth_pct": 100.0 * (rss_after - rss_before) / rss_before if rss_before else float("nan"),
                # CPU time per answered request: what the throughput of idle cores would be bounded by.
                "server_cpu_ms_per_request": 1e3 * server_cpu / len(ms) if ms else float("nan"),
                "client_cpu_ms_per_request": 1e3 * client_cpu / len(ms) if ms else float("nan"),
                "load_1min_before": load_before,
                "load_1min_after": os.getloadavg()[0],
                "cpu_count": os.cpu_count(),
                "healthy_after": healthy,
            }
        ]
    )


def environment(options: Options) -> dict:
    return timing_environment({"bench": "service", "options": options.__dict__})


def goal_lines(frame: pd.DataFrame) -> list[str]:
    row = frame.iloc[0]
    marks = {True: "met", False: "NOT met"}
    return [
        f"throughput: {row.requests_per_s:.0f} requests/s with {row.clients} clients "
        f"(goal >= {GOALS['requests_per_s']:.0f}: {marks[row.requests_per_s >= GOALS['requests_per_s']]})",
        f"latency: p50 {row.p50_ms:.1f} ms, p99 {row.p99_ms:.1f} ms (goal p99 < {GOALS['p99_ms']:.0f} ms: "
        f"{marks[row.p99_ms < GOALS['p99_ms']]})",
        f"memory: {row.rss_before_mb:.0f} MB before, {row.rss_after_mb:.0f} MB after {row.requests} requests, "
        f"{row.rss_growth_pct:+.1f}% (goal within {GOALS['rss_growth_pct']:.0f}%: "
        f"{marks[abs(row.rss_growth_pct) <= GOALS['rss_growth_pct']]})",
        f"CPU per request: server {row.server_cpu_ms_per_request:.1f} ms, clients "
        f"{row.client_cpu_ms_per_request:.1f} ms: on {row.cpu_count} idle cores at most "
        f"{1e3 * row.cpu_count / (row.server_cpu_ms_per_request + row.client_cpu_ms_per_request):.0f} requests/s",
        f"{row.not_200} answers other than 200; load average {row.load_1min_before:.1f} before, "
        f"{row.load_1min_after:.1f} after, on {row.cpu_count} cores (a shared machine: other work shares them)",
    ]
