"""`refbp bench check`: `refbp check --impl` on a user's code against torch.autograd.gradcheck,
and on the whole shipped suite against `refbp run`.

Per network (MLPs 32-64-64-10 and 784-256-256-10, sigmoid and relu hidden layers, a sigmoid
output, half_sse, batch 8, float64: refbp.bench.fd.make_case), in the same process, taking
turns in each round (`interleaved`; medians and min-max ranges over the rounds):
  check_s         what `refbp check --impl IMPL CASE` does once started: the case loaded, sent
                  to a fresh guarded worker (refbp.parallel.guarded), the implementation imported
                  there and asked, every reference row, the verdict back (refbp.check.run_suite);
                  the references' disk cache warm (refbp.check.reference_store), as on any run
                  after the first on the case; no report, no store, no interpreter start
  check_in_run_s  the same in the worker of the round before: what one more case costs in a run
  check_cold_s    one run with an empty reference cache (the first run on the case)
  gradcheck_s     torch.autograd.gradcheck on the torch reference's loss of the same case (as
                  `refbp bench fd` runs it), torch on one thread (`_single_threaded`); on
                  784-256-256-10 timed on the columns of two bias tensors and scaled to every
                  parameter (`baseline_note`)
  ratio           check_s / gradcheck_s
The suite row: check_s is `refbp check --impl IMPL` over the whole shipped suite, gradcheck_s
is replaced by `refbp run` over it (run_s), both through run_suite in this process.
`state` is the check's verdict (every row must pass: the implementation is correct).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from statistics import median
from typing import TYPE_CHECKING

from refbp.cases.export import explicit_document

from .common import BenchUsageError, timing_environment
from .fd import BIG_SAMPLED_TENSORS, make_case
from .gradcheck import gradcheck_function
from .pipe import pipe_columns, pipe_lines

if TYPE_CHECKING:
    import pandas as pd

NETWORKS = ((32, 64, 64, 10), (784, 256, 256, 10))
ACTIVATIONS = ("sigmoid", "relu")
QUICK_NETWORKS = ((4, 6, 3),)
QUICK_ACTIVATIONS = ("relu",)
BIG = 100_000  # parameters from which gradcheck is timed on a sample of its columns
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "numpy_mlp.py"
TITLE = "refbp bench check: refbp check --impl against torch.autograd.gradcheck and refbp run (seconds are medians)"
GOALS = {"32-64-64-10 relu": 0.1, "784-256-256-10 relu": 0.02, "suite": 2.0}


@dataclass(frozen=True)
class Options:
    quick: bool = False  # a tiny network, one round, two suite cases (a smoke run)
    repeats: int | None = None  # rounds per median; None: 5 (1 with quick)
    impl: str = ""  # MODULE:FACTORY; "" for examples/numpy_mlp.py
    suite: bool = True  # the whole-suite row

    @property
    def rounds(self) -> int:
        return self.repeats or (1 if self.quick else 5)

    @property
    def spec(self) -> str:
        if self.impl:
            return self.impl
        if not EXAMPLE.is_file():
            raise BenchUsageError(f"{EXAMPLE}: not found (a source checkout has examples/); name one with --impl")
        return f"{EXAMPLE}:factory"


def run(options: Options) -> pd.DataFrame:
    import pandas as pd

    if options.rounds < 1:
        raise BenchUsageError("--repeats must be at least 1")
    spec = options.spec
    rows = []
    with tempfile.TemporaryDirectory(prefix="refbp-bench-check-") as folder, _cache_in(Path(folder) / "cache"):
        for sizes in QUICK_NETWORKS if options.quick else NETWORKS:
            for activation in QUICK_ACTIVATIONS if options.quick else ACTIVATIONS:
                rows.append(bench_network(sizes, activation, spec, Path(folder), options))
        if options.suite:
            rows.append(bench_suite(spec, options))
    return pd.DataFrame(rows)


def bench_network(sizes, activation: str, spec: str, folder: Path, options: Options) -> dict:
    """One network's row: the check of the case file against gradcheck on the same case."""
    from refbp.check.tolerance import tolerance_for

    case = make_case(sizes, activation=activation)
    path = folder / f"{case.id}.json"
    path.write_text(json.dumps(case_file(case)))
    count = sum(int(p.size) for p in case.params.values())
    load = os.getloadavg()[0]
    cold_s, state, _ = _checked(spec, [path])
    tolerance = tolerance_for(case, "finite-difference")
    sampled = BIG_SAMPLED_TENSORS if count >= BIG else None
    gradcheck = _single_threaded(gradcheck_function(case, False, tolerance.atol, tolerance.rtol, names=sampled)())
    scale, note = 1.0, ""
    if sampled:
        columns = sum(int(case.params[n].size) for n in sampled)
        scale = count / columns
        note = (
            f"gradcheck timed on the columns of {', '.join(sampled)} ({columns:,} of {count:,} entries) and "
            f"scaled by {count:,} / {columns:,}: every column costs the same two forwards"
        )
    last = list(case.params)[-1]  # gradcheck's warm-up: the columns of one small tensor
    _single_threaded(gradcheck_function(case, False, tolerance.atol, tolerance.rtol, names=[last])())()
    samples = interleaved(
        {
            "check": lambda: _checked(spec, [path]),
            "in_run": lambda: _checked(spec, [path], True),
            "gradcheck": gradcheck,
        },
        options.rounds,
    )
    samples["gradcheck"] = [t * scale for t in samples["gradcheck"]]
    name = "-".join(map(str, sizes))
    return {
        "network": name,
        "activation": activation,
        "params": count,
        "cases": 1,
        "state": state,
        **_spread(samples, "check"),
        "check_in_run_s": median(samples["in_run"]),
        "check_cold_s": cold_s,
        **_spread(samples, "gradcheck"),
        "run_s": float("nan"),
        "run_range": "",
        "ratio": median(samples["check"]) / median(samples["gradcheck"]),
        "goal": GOALS.get(f"{name} {activation}", float("nan")),
        "load_1min": load,
        "baseline_note": note,
        **pipe_columns(case, path, spec, options.rounds, _checked),
    }  # --cmd against --impl (refbp.bench.pipe)


def case_file(case) -> dict:
    """The refbp-case/1 document of a case made by refbp.bench.fd.make_case (which has none)."""
    network = case.network
    document = explicit_document(case)
    document.update(
        {
            "format": "refbp-case/1",
            "id": case.id,
            "title": f"bench check {case.id}",
            "loss": case.loss,
            "network": {
                "kind": "mlp",
                "sizes": list(network.sizes),
                "activations": list(network.activations),
                "bias": network.bias,
            },
        }
    )
    return document


def bench_suite(spec: str, options: Options) -> dict:
    """The whole shipped suite (two of its cases with quick): check --impl against refbp run."""
    from refbp.cases import SUITE_DIR

    paths = (
        [SUITE_DIR / "seed" / "seed-2-2-2.json", SUITE_DIR / "mlp" / "mlp-leaky-relu-sse-b4.json"]
        if options.quick
        else None
    )
    load = os.getloadavg()[0]
    cold_s, state, cases = _checked(spec, paths)
    _ran(paths)  # its warm-up
    samples = interleaved({"check": lambda: _checked(spec, paths), "run": lambda: _ran(paths)}, options.rounds)
    return {
        "network": "suite" if paths is None else "suite (2 cases)",
        "activation": "",
        "params": float("nan"),
        "cases": cases,
        "state": state,
        **_spread(samples, "check"),
        "check_in_run_s": float("nan"),
        "check_cold_s": cold_s,
        "gradcheck_s": float("nan"),
        "gradcheck_range": "",
        **_spread(samples, "run"),
        "ratio": median(samples["check"]) / median(samples["run"]),
        "goal": GOALS["suite"] if paths is None else float("nan"),
        "load_1min": load,
        "baseline_note": "run_s: refbp run on the same cases (refbp's own backprop), in this process",
    }


def interleaved(calls: dict, rounds: int) -> dict[str, list[float]]:
    """Seconds of each call per round, the calls taking turns within a round (a burst of load
    from elsewhere slows them alike); each was called once before (its warm-up)."""
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            samples[name].append(time.perf_counter() - start)
    return samples


def _spread(samples: dict, name: str) -> dict:
    """`<name>_s` (the median) and `<name>_range` ("min-max")."""
    values = samples[name]
    return {f"{name}_s": median(values), f"{name}_range": f"{min(values):.3g}-{max(values):.3g}"}


def _single_threaded(check):
    """gradcheck with torch on one thread (its fastest here: its tiny products gain nothing from a
    second thread, and on a loaded machine its spinning threads made it up to 20x slower), after
    one untimed call on the same columns."""
    import torch

    def timed():
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return check()
        finally:
            torch.set_num_threads(threads)

    return timed


def _checked(spec: str, paths, kept: bool = False) -> tuple[float, str, int]:
    """(seconds, state, cases checked) of `refbp check --impl spec paths` through run_suite, in a
    fresh guarded worker (only the disk cache carries over from one round to the next), or with
    `kept` in the worker of the round before (what one more case costs within a run)."""
    from refbp.check import run_suite
    from refbp.check.units import CheckWith
    from refbp.parallel import start_workers
    from refbp.parallel.guarded import DEFAULT_TIMEOUT, close_idle

    start_workers(1, None, guarded=True)
    if not kept:
        close_idle()
    start = time.perf_counter()
    run = run_suite(paths, progress=False, check_with=CheckWith(impl=spec, name="bench"), timeout=DEFAULT_TIMEOUT)
    seconds = time.perf_counter() - start
    checked = [v for v in run.verdicts if v.error_kind != "unsupported"]
    states = {v.state.value for v in checked}
    return seconds, "pass" if states == {"pass"} else ",".join(sorted(states)) or "nothing checked", len(checked)


def _ran(paths) -> None:
    from refbp.check import run_suite

    run_suite(paths, progress=False)


@contextmanager
def _cache_in(folder: Path):
    """The reference cache in `folder` for the bench (its first run is a cold one, the user's own cache untouched)."""
    from refbp.check.reference_store import FOLDER_VARIABLE

    previous = os.environ.get(FOLDER_VARIABLE)
    os.environ[FOLDER_VARIABLE] = str(folder)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(FOLDER_VARIABLE, None)
        else:
            os.environ[FOLDER_VARIABLE] = previous


def environment(options: Options) -> dict:
    return timing_environment(
        {
            "problem": "float64, batch 8, sigmoid output, half_sse (refbp.bench.fd.make_case)",
            "implementation": options.impl or "examples/numpy_mlp.py:factory",
            "rounds": f"medians of {options.rounds} interleaved rounds",
            "load_1min_at_end": os.getloadavg()[0],
            "cpu_count": os.cpu_count(),
        }
    )


def goal_lines(frame) -> list[str]:
    lines = pipe_lines(frame)
    for row in frame.itertuples():
        if row.goal != row.goal:  # NaN: no goal for this row
            continue
        against = "refbp run" if row.network == "suite" else "gradcheck"
        met = row.ratio <= row.goal and row.state == "pass"
        lines.append(
            f"goal: {row.network} {row.activation}".rstrip() + f": check --impl {row.ratio:.3g}x {against}'s "
            f"time, state {row.state}; goal <= {row.goal:g}x ({'met' if met else 'not met'})"
        )
    return lines
