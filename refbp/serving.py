"""A `refbp serve` process on 127.0.0.1 and a free port: started through the command line
(`python -m refbp serve ...`), waited for (GET /healthz), and stopped (SIGTERM, then SIGKILL)
by its own process group.

It talks to the server as any client does, over HTTP, and imports nothing of refbp: the
benchmarks (refbp.bench) and the tests use it without importing the service's internals
(tests/test_layers.py: refbp.bench never imports refbp.service).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

HOST = "127.0.0.1"


class ServerFailed(RuntimeError):
    """The server process did not come up (its output's last lines say why)."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def serving(
    arguments=(),
    environment: dict | None = None,
    log: Path | None = None,
    start_seconds: float = 90.0,
    port: int | None = None,
):
    """Yield (base URL, the process) of `refbp serve ARGUMENTS` on `port` (default: a free one) of 127.0.0.1."""
    port = port or free_port()
    env = dict(os.environ, **(environment or {}))
    command = [sys.executable, "-m", "refbp", "serve", "--host", HOST, "--port", str(port), *arguments]
    base = f"http://{HOST}:{port}"
    with open(log if log is not None else os.devnull, "wb") as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            _wait_until_healthy(base, process, start_seconds, log)
            yield base, process
        finally:
            _stop(process)


def healthy(base: str, seconds: float = 2.0) -> bool:
    """GET /healthz answers 200 within `seconds`."""
    try:
        with urllib.request.urlopen(f"{base}/healthz", timeout=seconds) as answer:
            return answer.status == 200
    except (OSError, urllib.error.URLError):  # refused, reset, timed out, or an HTTP error status
        return False


def _wait_until_healthy(base: str, process, seconds: float, log) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerFailed(f"refbp serve exited with {process.returncode}: {_tail(log)}")
        if healthy(base):
            return
        time.sleep(0.2)
    raise ServerFailed(f"refbp serve did not answer /healthz within {seconds:g} s: {_tail(log)}")


def _tail(log) -> str:
    if log is None or not Path(log).exists():
        return "(no log)"
    return " | ".join(Path(log).read_text(errors="replace").strip().splitlines()[-3:])


def _stop(process) -> None:
    """SIGTERM to the server's own process group (uvicorn's worker processes with it), then SIGKILL."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)
