"""The process that runs the suite against each mutant: `python -m refbp.mutate.server`.

Started by refbp.mutate.run inside a temporary copy of the project (cwd and PYTHONPATH), with
bytecode writing off (a mutant of the same size and second as the original must never be
read from a stale .pyc). It imports what no mutant changes (numpy, torch, the cases and the
references) once, then for each request on stdin forks: the child imports refbp's checking
layer, and with it the mutated refbp.nn, from the copy's files as they are now, and runs
the shipped suite exactly as `refbp run` does (refbp.check.run_suite, every reference),
stopping at the first case that does not pass; it answers one JSON line on stdout.

Nothing of refbp.nn is imported in this parent process, so every child reads the mutant.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time

import numpy  # noqa: F401  (imported once, before any fork: no mutant changes these)
import torch

import refbp.oracle.torch_reference  # noqa: F401
from refbp import cases  # noqa: F401

# One intra-op thread: no OpenMP pool exists when a child is forked (a pool does not survive a
# fork), and the suite's tensors are small.
torch.set_num_threads(1)

POLL_SECONDS = 0.02


class FirstFailure(Exception):
    """Ends the suite at the first case that does not pass (one is enough to kill a mutant)."""


def suite_until_first_failure(paths) -> dict:
    """In the child: the suite on the copy's refbp, the first case that does not pass."""
    from refbp.check.suite import run_suite  # here: the mutated refbp.nn is read in the child only

    first: list = []

    def stop_at_failure(verdict):
        if not verdict.passed and verdict.error_kind != "unsupported":
            first.append(verdict)
            raise FirstFailure

    try:
        run_suite(paths or None, progress=False, on_verdict=stop_at_failure)
    except FirstFailure:
        failed = first[0]
        check = failed.failed_checks()[0] if failed.failed_checks() else None
        reason = (
            f"{check.reference} {check.quantity} {check.tensor}"
            if check is not None
            else (failed.errors or ["failed"])[0][:200]
        )
        return {"killed": True, "case": failed.case, "reason": reason}
    return {"killed": False, "case": "", "reason": ""}


def answer(request: dict) -> dict:
    """Fork, run the suite in the child, wait at most `timeout` seconds."""
    read_end, write_end = os.pipe()
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # the child: its stdout is not the answer channel
        os.close(read_end)
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
        try:
            result = suite_until_first_failure(request.get("paths"))
        except BaseException as exc:  # an import or a crash outside any case: the mutant breaks refbp
            result = {"killed": True, "case": "", "reason": f"{type(exc).__name__}: {exc}"[:200]}
        os.write(write_end, json.dumps(result).encode())
        os._exit(0)
    os.close(write_end)
    deadline = start + float(request.get("timeout", 600))
    while os.waitpid(pid, os.WNOHANG) == (0, 0):
        if time.perf_counter() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(read_end)
            return {"killed": True, "case": "", "reason": "timeout", "seconds": time.perf_counter() - start}
        time.sleep(POLL_SECONDS)
    with os.fdopen(read_end, "rb") as pipe:
        text = pipe.read().decode()
    result = json.loads(text) if text else {"killed": True, "case": "", "reason": "the child died"}
    result["seconds"] = time.perf_counter() - start
    return result


def main() -> None:
    for line in sys.stdin:
        print(json.dumps(answer(json.loads(line))), flush=True)


if __name__ == "__main__":
    main()
