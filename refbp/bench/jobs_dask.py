"""A local Dask cluster for `refbp bench jobs`: a `dask scheduler` and a `dask worker` with N
single-threaded worker processes on 127.0.0.1, started as a user starts them and stopped after."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .common import BenchUsageError

STARTUP_SECONDS = 120


@contextlib.contextmanager
def dask_cluster(workers: int):
    """The scheduler's dask://127.0.0.1:PORT, with `workers` worker processes connected (None
    for 0 workers: no cluster)."""
    if workers < 1:
        yield None
        return
    try:
        from distributed import Client
    except ImportError:
        raise BenchUsageError("bench jobs --dask: Dask is not installed (pip install 'refbp[cluster]')") from None
    dask = str(Path(sys.executable).parent / "dask")
    with tempfile.TemporaryDirectory() as folder:
        scheduler_file = Path(folder) / "scheduler.json"
        quiet: dict[str, Any] = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "start_new_session": True}
        processes = [
            subprocess.Popen(
                [
                    dask,
                    "scheduler",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    "0",
                    "--no-dashboard",
                    "--scheduler-file",
                    str(scheduler_file),
                ],
                **quiet,
            )
        ]
        try:
            deadline = time.monotonic() + STARTUP_SECONDS
            while not scheduler_file.exists() and time.monotonic() < deadline:
                time.sleep(0.2)
            processes.append(
                subprocess.Popen(
                    [
                        dask,
                        "worker",
                        "--scheduler-file",
                        str(scheduler_file),
                        "--nworkers",
                        str(workers),
                        "--nthreads",
                        "1",
                        "--no-dashboard",
                        "--host",
                        "127.0.0.1",
                    ],
                    env={**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"},
                    **quiet,
                )
            )
            address = json.loads(scheduler_file.read_text())["address"]
            with Client(address, timeout=STARTUP_SECONDS) as client:
                client.wait_for_workers(workers, timeout=STARTUP_SECONDS)
            yield address.replace("tcp://", "dask://")
        finally:  # each in its own process group: the worker's nanny and processes go with it
            for process in reversed(processes):
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)
