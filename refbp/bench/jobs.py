"""`refbp bench jobs`: the wall time of whole commands over 1 and N local workers (and on a
local Dask cluster of 1 and N worker processes), each setting run in turn in every round.

Each command runs as a user would run it (`python -m refbp ...` in a fresh process, so the
interpreter's start and torch's import count), with the verdict store off: `refbp run` on the
shipped suite with its report (written into a temporary folder, removed after: its pictures
are drawn by the workers too), `run-no-report` (the checks alone), and `refbp fuzz` (a fixed
seed, no shrinking). A round runs every setting once, one after the other, so that load from
elsewhere hits them alike; each row is the median over the rounds, with the load average
before and after.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .common import BenchUsageError, timing_environment
from .jobs_dask import dask_cluster

TITLE = "refbp bench jobs: whole commands over 1 and N workers (seconds, medians over interleaved rounds)"
WORKLOADS = {
    "run": ["run", "--no-progress", "--report-dir", "{report_dir}"],
    "run-no-report": ["run", "--no-progress", "--no-report"],
    "fuzz": ["fuzz", "--examples", "{examples}", "--seed", "0", "--no-shrink", "--no-progress"],
}
GOAL_SPEEDUP = 1.8  # "close to 2x" on 2 cores


@dataclass(frozen=True)
class Options:
    jobs: int = 2  # compared with 1
    rounds: int = 5
    workloads: tuple = ("run", "fuzz")
    examples: int = 200  # fuzz's budget
    dask: bool = False  # also on a local Dask cluster of 1 and `jobs` worker processes
    quick: bool = False  # 2 rounds, 20 fuzz examples (a smoke run)

    def effective(self) -> Options:
        if not self.quick:
            return self
        return Options(
            jobs=self.jobs,
            rounds=min(self.rounds, 2),
            workloads=self.workloads,
            examples=min(self.examples, 20),
            dask=self.dask,
        )


def command(workload: str, options: Options, report_dir: str = "") -> list[str]:
    return [
        sys.executable,
        "-m",
        "refbp",
        *(part.format(examples=options.examples, report_dir=report_dir) for part in WORKLOADS[workload]),
    ]


def timed(argv: list[str]) -> float:
    """Seconds of one whole command (it must succeed or find failures: exit 0 or 1)."""
    env = {**os.environ, "REFBP_DATABASE_URL": "none"}
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise BenchUsageError(f"{' '.join(argv[2:])}: exit {done.returncode}: {done.stderr.strip()[-300:]}")
    return seconds


def settings(options: Options, clusters: dict) -> dict[str, list[str]]:
    """Setting name -> the options it adds to a command."""
    chosen = {"jobs 1": ["--jobs", "1"], f"jobs {options.jobs}": ["--jobs", str(options.jobs)]}
    chosen.update({f"dask {workers} workers": ["--executor", address] for workers, address in clusters.items()})
    return chosen


def run(options: Options) -> pd.DataFrame:
    options = options.effective()
    unknown = [w for w in options.workloads if w not in WORKLOADS]
    if unknown or options.jobs < 2 or options.rounds < 1:
        raise BenchUsageError(
            f"bench jobs: workloads from {', '.join(WORKLOADS)}, --jobs 2 or more, --rounds 1 "
            f"or more (got {', '.join(unknown) or options.workloads}, {options.jobs}, {options.rounds})"
        )
    with (
        dask_cluster(1 if options.dask else 0) as one,
        dask_cluster(options.jobs if options.dask else 0) as many,
        tempfile.TemporaryDirectory(prefix="refbp-bench-jobs-") as reports,
    ):
        clusters = {workers: address for workers, address in ((1, one), (options.jobs, many)) if address}
        chosen = settings(options, clusters)
        for workload in options.workloads:  # a warm-up: the clusters' workers import torch once
            for name, extra in chosen.items():
                if name.startswith("dask"):
                    timed(command(workload, options, reports) + extra)
        load_before = os.getloadavg()[0]
        times: dict[tuple[str, str], list[float]] = {(w, name): [] for w in options.workloads for name in chosen}
        for _ in range(options.rounds):
            for workload in options.workloads:
                for name, extra in chosen.items():
                    times[workload, name].append(timed(command(workload, options, reports) + extra))
        load_after = os.getloadavg()[0]
    rows = []
    for (workload, name), seconds in times.items():
        base = statistics.median(times[workload, "dask 1 workers" if name.startswith("dask") else "jobs 1"])
        median = statistics.median(seconds)
        rows.append(
            {
                "workload": workload,
                "setting": name,
                "median_s": round(median, 3),
                "min_s": round(min(seconds), 3),
                "rounds": len(seconds),
                "speedup": round(base / median, 3),
                "load_before": round(load_before, 2),
                "load_after": round(load_after, 2),
            }
        )
    return pd.DataFrame(rows)


def environment(options: Options) -> dict:
    options = options.effective()
    return timing_environment(
        {
            "cores": os.cpu_count(),
            "rounds": options.rounds,
            "jobs": options.jobs,
            "fuzz_examples": options.examples,
            "timing": "wall time of whole `python -m refbp ...` processes, store off, run's report "
            "into a temporary folder; settings interleaved per round; medians",
        }
    )


def goal_lines(frame: pd.DataFrame) -> list[str]:
    lines = []
    row: Any  # a row of the frame
    for row in frame.itertuples():
        if row.setting in ("jobs 1", "dask 1 workers"):
            continue
        base = "jobs 1" if row.setting.startswith("jobs") else "dask 1 worker"
        mark = "met" if row.speedup >= GOAL_SPEEDUP else "NOT met"
        lines.append(
            f"{row.workload} {row.setting}: {row.speedup:.2f}x of {base} (goal: close to 2x, "
            f"{GOAL_SPEEDUP}x or more: {mark}; load average {row.load_before}..{row.load_after})"
        )
    return lines
