"""The pipe's cost in `refbp bench check`: the same numpy implementation (examples/numpy_mlp.py)
checked through `--impl` and through `--cmd` behind the Python pipe server
(examples/pipe/python/serve_adapter.py), per network, in rounds that take turns (medians, ranges):

  request_s      one `loss` request over the pipe (refbp's JSON out, the server's JSON in, its
                 loss, its JSON out, refbp's JSON in): the request the own-forward finite
                 differences make most
  call_s         the same implementation's `loss` called in this process on the same arrays
  overhead_s     request_s - call_s: what the pipe adds to one request
  request_b64_s  request_s with the arrays as base64 both ways (the server's --base64)
  check_cmd_s    `refbp check --cmd` on the case, the command started (one more case in a run)
  check_b64_s    check_cmd_s with the server's arrays as base64 both ways
  check_impl_s   `refbp check --impl` on the case, in the guarded worker of the round before
  requests       requests one check over the pipe makes (its first answer, then the finite
                 differences of its own loss)
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path
from statistics import median

import numpy as np

from refbp.cases import load_case
from refbp.check.adapter import case_document
from refbp.pipe import PIPE_PREFIX, close_all, start

SERVER = Path(__file__).resolve().parents[2] / "examples" / "pipe" / "python" / "serve_adapter.py"


def server_command(spec: str) -> str | None:
    """The command serving `spec` (FILE.py:factory) over the pipe; None when it cannot (a module spec)."""
    path = spec.rpartition(":")[0]
    if not SERVER.is_file() or not path.endswith(".py"):
        return None
    return f"{sys.executable} {SERVER} {spec}"


def pipe_columns(_case, path: Path, spec: str, rounds: int, checked) -> dict:
    """The columns above for one network (empty values when `spec` cannot be served); `checked`
    is refbp.bench.check._checked (spec, paths, kept) -> (seconds, state, cases)."""
    command = server_command(spec)
    if command is None:
        nan = float("nan")
        return {
            "request_s": nan,
            "request_b64_s": nan,
            "call_s": nan,
            "overhead_s": nan,
            "check_cmd_s": nan,
            "check_b64_s": nan,
            "check_impl_s": nan,
            "requests": 0,
            "pipe_state": "",
        }
    try:
        factory = start(command)
        document = case_document(load_case(path), "float64")  # the bench's case as its file says
        implementation = _local_factory(spec)(document)
        params = {name: value + 1e-6 for name, value in document["params"].items()}  # not the case's own values
        inputs, targets = document["inputs"], document["targets"]
        piped = factory(document)
        piped_b64 = start(command + " --base64")(document)

        def request():
            piped.loss(params, inputs, targets)

        def request_b64():
            piped_b64.loss(params, inputs, targets)

        def call():
            implementation.loss({k: v.copy() for k, v in params.items()}, inputs.copy(), targets.copy())

        before = factory.client.next_id
        pipe_state = _checked_over_pipe(command, [path])  # its warm-up, and the requests counted
        requests = factory.client.next_id - before
        checked(spec, [path], True)
        samples = _interleaved(
            {
                "request": request,
                "request_b64": request_b64,
                "call": call,
                "check_cmd": lambda: _checked_over_pipe(command, [path]),
                "check_b64": lambda: _checked_over_pipe(command + " --base64", [path]),
                "check_impl": lambda: checked(spec, [path], True),
            },
            rounds,
        )
    finally:
        close_all()
    spread = {f"{name}_range": f"{min(v):.3g}-{max(v):.3g}" for name, v in samples.items()}
    medians = {f"{name}_s": median(v) for name, v in samples.items()}
    return {
        **medians,
        "overhead_s": medians["request_s"] - medians["call_s"],
        "requests": requests,
        "pipe_state": pipe_state,
        "request_range": spread["request_range"],
        "check_cmd_range": spread["check_cmd_range"],
        "check_impl_range": spread["check_impl_range"],
    }


def _checked_over_pipe(command: str, paths) -> str:
    """The state of `refbp check --cmd COMMAND paths` through run_suite in this process, as the CLI runs it."""
    from refbp.check import run_suite
    from refbp.check.units import CheckWith

    run = run_suite(paths, progress=False, check_with=CheckWith(impl=PIPE_PREFIX + command, name="bench-pipe"))
    states = {v.state.value for v in run.verdicts}
    return "pass" if states == {"pass"} else ",".join(sorted(states)) or "nothing checked"


def _interleaved(calls: dict, rounds: int) -> dict[str, list[float]]:
    """Seconds of each call per round, the calls taking turns (a burst of load slows them alike);
    the short calls repeated 5 times a round, their median kept."""
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, fn in calls.items():
            times = []
            for _ in range(5 if name in ("request", "request_b64", "call") else 1):
                start_s = time.perf_counter()
                fn()
                times.append(time.perf_counter() - start_s)
            samples[name].append(float(np.median(times)))
    return samples


def _local_factory(spec: str):
    """The factory of FILE.py:factory, imported in this process (only the bench's own example)."""
    path, _, name = spec.rpartition(":")
    module_spec = importlib.util.spec_from_file_location("refbp_bench_pipe_impl", path)
    if module_spec is None or module_spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return getattr(module, name)


def pipe_lines(frame) -> list[str]:
    """One line per network: what the pipe adds to a request and to a check."""
    lines = []
    for row in frame.itertuples():
        if getattr(row, "requests", 0) and row.requests == row.requests:
            lines.append(
                f"pipe: {row.network} {row.activation}: {1e3 * row.overhead_s:.3g} ms per request "
                f"({1e3 * row.request_s:.3g} ms over the pipe, {1e3 * row.request_b64_s:.3g} ms with "
                f"base64 arrays, {1e3 * row.call_s:.3g} ms in process); "
                f"check --cmd {row.check_cmd_s:.3g} s ({int(row.requests)} requests, {row.check_cmd_range}; "
                f"{row.check_b64_s:.3g} s with base64) "
                f"against --impl {row.check_impl_s:.3g} s ({row.check_impl_range}), state {row.pipe_state}"
            )
    return lines
