"""`--jobs N`: cases over N local worker processes give the report of one process (apart from
timings); a worker that dies is survived (its case retried once, then a crash verdict naming
it); Ctrl-C stops cleanly; finite differences of one network split into shares are those of
the whole."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from refbp.cases import SUITE_DIR, load_case
from refbp.check import split_fd
from refbp.check.split_fd import split_finite_difference
from refbp.cli import main
from refbp.fuzz import FuzzOptions, run_fuzz, spread
from refbp.oracle.fd import finite_difference
from refbp.parallel import UnitFailed, local, map_units, parse_jobs, start_order
from refbp.parallel.units import in_order
from refbp.perturbed import loss_forms
from test_verify import result_document

ROOT = Path(__file__).resolve().parents[1]
DYING = f"{Path(__file__).resolve().parent / 'dying_adapter.py'}:factory"
# A few small cases of every kind: MLP with published values, MLP with a kink, RNN.
FEW = [
    str(SUITE_DIR / "seed" / "seed-2-2-2.json"),
    str(SUITE_DIR / "published" / "fiqlab-2-2-1-sigmoid.json"),
    str(SUITE_DIR / "mlp" / "mlp-leaky-relu-sse-b4.json"),
    str(SUITE_DIR / "rnn" / "rnn-t1-tanh-mse.json"),
]
# What a report holds that is a time: summary.csv's column, verdicts.json's field, environment.json's.
TIMING_COLUMNS = ["seconds"]


def report(folder: Path) -> Path:
    (run,) = [p for p in folder.iterdir() if p.name.startswith("run-")]
    return run


def assert_same_report(a: Path, b: Path) -> None:
    """Two report folders equal apart from timings: details.csv byte for byte (it has no
    timing column), summary.csv and verdicts.json without their seconds, the same files, and
    every picture byte for byte (drawn by this process or by workers)."""
    assert sorted(p.name for p in a.iterdir()) == sorted(p.name for p in b.iterdir())
    pictures = sorted(p.name for p in a.glob("*.png"))
    assert "errors.png" in pictures
    for name in pictures:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert (a / "details.csv").read_bytes() == (b / "details.csv").read_bytes()
    summaries = [pd.read_csv(folder / "summary.csv").drop(columns=TIMING_COLUMNS) for folder in (a, b)]
    pd.testing.assert_frame_equal(*summaries)
    verdicts = [json.loads((folder / "verdicts.json").read_text()) for folder in (a, b)]
    for documents in verdicts:
        for document in documents:
            document.pop("seconds")
    assert verdicts[0] == verdicts[1]


def run_in(folder: Path, command: str, *argv: str) -> int:
    quiet = ["--no-progress"] if command != "verify" else []  # verify shows no progress bar
    return main([command, *argv, *quiet, "--report-dir", str(folder)])


def test_jobs_parses_numbers_and_auto():
    assert parse_jobs("3") == 3 and parse_jobs("auto") == len(os.sched_getaffinity(0))
    for bad in ("0", "-1", "two", ""):
        with pytest.raises(ValueError, match="--jobs"):
            parse_jobs(bad)


def test_results_finishing_in_any_order_come_out_in_input_order():
    finished = [(2, "c"), (0, "a"), (3, "d"), (1, "b")]
    assert list(in_order(iter(finished), 4)) == [(0, "a"), (1, "b"), (2, "c"), (3, "d")]
    with pytest.raises(RuntimeError, match="never finished"):
        list(in_order(iter(finished[:3]), 4))


def test_map_units_keeps_input_order_and_names_a_failure():
    units = ["7", "1", "x", "4", "2"]
    results = map_units(parse_jobs, units, jobs=2)
    assert results[:2] == [7, 1] and results[3:] == [4, 2]
    assert isinstance(results[2], UnitFailed) and "ValueError" in results[2].reason


class RecordingPool(ThreadPoolExecutor):
    """A pool of one thread that notes the units in the order they are submitted."""

    def __init__(self, submitted: list):
        super().__init__(max_workers=1)
        self.submitted = submitted

    def submit(self, fn, unit):
        self.submitted.append(unit)
        return super().submit(fn, unit)


def test_the_dearest_units_start_first_and_the_results_keep_input_order(monkeypatch):
    assert start_order(4, [1.0, 5.0, 5.0, 9.0]) == [3, 1, 2, 0] and start_order(3) == [0, 1, 2]
    submitted: list = []
    monkeypatch.setattr(local, "_new_pool", lambda jobs: RecordingPool(submitted))
    results = map_units(str.upper, ["a", "b", "c", "d", "e"], jobs=2, costs=[1, 2, 30, 3, 40])
    assert submitted == ["e", "c", "d", "b", "a"] and results == ["A", "B", "C", "D", "E"]


def fuzz_outcomes(run) -> list[tuple]:
    """What a fuzz run found, example by example, without the times."""
    return [(o.index, o.document, o.passed, o.supported, o.failure, o.features, o.worst_margin) for o in run.outcomes]


def test_fuzz_draws_by_rounds_cut_where_the_budget_starts_and_stops():
    options = FuzzOptions(examples=1, seed=3)
    cuts = [(u.start, u.stop) for u in spread.rounds(options, 95, 310)]
    assert cuts == [(95, 100), (100, 200), (200, 300), (300, 310)]
    assert [(u.start, u.stop) for u in spread.rounds(options, 0, 100)] == [(0, 100)]


def test_fuzz_over_two_workers_checks_the_same_examples_and_finds_the_same():
    examples = spread.ROUND_SIZE + 4  # two rounds drawn (here, and by a worker), then chunks checked
    one = run_fuzz(FuzzOptions(examples=examples, seed=3, shrink=False, progress=False))
    two = run_fuzz(FuzzOptions(examples=examples, seed=3, shrink=False, progress=False, jobs=2))
    assert len(two.outcomes) == examples and fuzz_outcomes(two) == fuzz_outcomes(one)


SERVER_SCRIPT = """
from multiprocessing import forkserver
from refbp.parallel import map_units, start_workers
start_workers(2, preload=("exit_marker",))
assert map_units(abs, [-1, -2], jobs=2) == [1, 2]
print(forkserver._forkserver._forkserver_pid)
"""
MARKER_MODULE = """
import atexit, pathlib
atexit.register(lambda: pathlib.Path({path!r}).write_text("shut down"))
"""


def test_the_fork_server_leaves_at_once_when_refbp_ends(tmp_path):
    """Its Python shutdown (torch's, 0.8 s) would hold the command's stdout and stderr open after
    refbp has ended (`refbp run --jobs 2 | tee log` waited for it): an exit handler registered in
    the server before refbp.parallel.server_exit never runs, one in an ordinary process does."""
    marker = tmp_path / "shut-down"
    (tmp_path / "exit_marker.py").write_text(MARKER_MODULE.format(path=str(marker)))
    # On the path of every process (the fork server imports its preload with the environment's path).
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    subprocess.run([sys.executable, "-c", "import exit_marker"], check=True, env=env)
    assert marker.read_text() == "shut down"  # the handler does run at an ordinary exit
    marker.unlink()
    done = subprocess.run([sys.executable, "-c", SERVER_SCRIPT], check=True, capture_output=True, text=True, env=env)
    server = int(done.stdout.split()[-1])
    deadline = time.monotonic() + 30
    while _alive(server) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(server) and not marker.exists()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_workers_share_the_cores_threads():
    cores = len(os.sched_getaffinity(0))
    threads = map_units(os.getenv, ["OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"], jobs=2)
    assert threads == [str(max(1, cores // 2))] * 2


def test_bad_jobs_and_executor_are_usage_errors(tmp_path, capsys):
    assert run_in(tmp_path, "run", FEW[0], "--jobs", "0") == 2
    assert run_in(tmp_path, "run", FEW[0], "--executor", "tcp://127.0.0.1:1") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("refbp: error: --jobs 0") and err[1].startswith("refbp: error: --executor")


def test_jobs_2_gives_the_report_of_jobs_1_on_a_few_cases(tmp_path):
    assert run_in(tmp_path / "one", "run", *FEW) == 0
    assert run_in(tmp_path / "two", "run", *FEW, "--jobs", "2") == 0
    assert_same_report(report(tmp_path / "one"), report(tmp_path / "two"))


@pytest.mark.slow
def test_jobs_2_gives_the_report_of_jobs_1_on_the_shipped_suite(tmp_path):
    assert run_in(tmp_path / "one", "run") == 0
    assert run_in(tmp_path / "two", "run", "--jobs", "2") == 0
    assert_same_report(report(tmp_path / "one"), report(tmp_path / "two"))


def test_verify_in_workers_gives_the_report_of_one_process(tmp_path):
    """Good, wrong, unknown and repeated results, in workers, merged in the order found."""
    documents = [result_document(Path(path)) for path in FEW[:3]]
    documents[1]["grads"]["layers.0.weight"][0][0] += 1e-3
    documents += [dict(documents[0], case="no-such-case"), documents[2]]
    paths = []
    for i, document in enumerate(documents):
        paths.append(tmp_path / f"result-{i}.json")
        paths[-1].write_text(json.dumps(document))
    assert run_in(tmp_path / "one", "verify", *map(str, paths)) == 2
    assert run_in(tmp_path / "two", "verify", *map(str, paths), "--jobs", "2") == 2
    assert_same_report(report(tmp_path / "one"), report(tmp_path / "two"))
    summary = pd.read_csv(report(tmp_path / "two") / "summary.csv")
    assert summary["passed"].tolist() == [True, False, True, False, False]


def test_check_impl_runs_in_workers_as_in_process(tmp_path):
    impl = f"{ROOT / 'examples' / 'numpy_mlp.py'}:factory"
    assert run_in(tmp_path / "one", "check", "--impl", impl, *FEW) == 0
    assert run_in(tmp_path / "two", "check", "--impl", impl, *FEW, "--jobs", "2") == 0
    assert_same_report(report(tmp_path / "one"), report(tmp_path / "two"))


def test_a_case_that_kills_its_worker_is_retried_once_then_named(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("REFBP_TEST_DIE_ON", "fiqlab-2-2-1-sigmoid")
    assert run_in(tmp_path, "check", "--impl", DYING, *FEW[:3], "--jobs", "2") == 1
    err = capsys.readouterr().err
    # an adapter's code runs in guarded workers (refbp.parallel.guarded): the death names the call it was in
    assert (
        "fiqlab-2-2-1-sigmoid.json: could not be checked: the implementation's process exited with code 3 "
        "(os._exit) during factory() (its worker process died 2 times: retried once)"
    ) in err
    summary = pd.read_csv(report(tmp_path) / "summary.csv")
    assert summary["case"].tolist() == ["seed-2-2-2", "fiqlab-2-2-1-sigmoid", "mlp-leaky-relu-sse-b4"]
    assert summary["passed"].tolist() == [True, False, True]  # no other result lost


def test_a_worker_that_dies_once_is_survived_by_the_retry(tmp_path, monkeypatch):
    monkeypatch.setenv("REFBP_TEST_DIE_ON", "fiqlab-2-2-1-sigmoid")
    monkeypatch.setenv("REFBP_TEST_DIE_ONCE", str(tmp_path / "died"))
    assert run_in(tmp_path / "out", "check", "--impl", DYING, *FEW[:3], "--jobs", "2") == 0
    assert (tmp_path / "died").exists()  # it did die once


def test_ctrl_c_stops_the_workers_and_reports_the_cases_checked_so_far(tmp_path):
    started, reports = tmp_path / "started", tmp_path / "reports"
    started.mkdir()
    command = [
        sys.executable,
        "-m",
        "refbp",
        "check",
        "--impl",
        DYING,
        "--jobs",
        "2",
        "--no-progress",
        "--report-dir",
        str(reports),
        str(SUITE_DIR / "mlp"),
    ]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "REFBP_TEST_STARTED": str(started), "REFBP_TEST_SLOW": "0.5"},
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while len(list(started.iterdir())) < 2 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)  # until both workers are checking cases (a run of 0.5 s per case, long enough to interrupt)
    assert process.poll() is None, process.communicate()
    os.killpg(process.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole process group
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    # `check` keeps the verdicts so far (tests/test_untrusted.py); `run` and `verify` write no report
    assert "refbp: note: interrupted (Ctrl-C) after " in err
    assert "Traceback" not in err
    written = list(reports.iterdir()) if reports.exists() else []
    assert all(not folder.name.startswith(".partial") for folder in written)  # never a half-written one
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # no worker left behind (the fork server ends with its parent)
        left = subprocess.run(["pgrep", "-s", str(process.pid)], capture_output=True, text=True).stdout.split()
        if not left:
            break
        time.sleep(0.2)
    assert left == []


@pytest.mark.parametrize(
    "path", ["mlp/mlp-leaky-relu-sse-b4.json", "mlp/mlp-depth4-sigmoid-b8.json", "rnn/rnn-relu-every-sse.json"]
)
def test_split_finite_differences_are_those_of_the_whole(path):
    case = load_case(SUITE_DIR / path)
    forms = loss_forms(case)
    for method in ("central", "richardson") + (("complex",) if forms.complex_loss is not None else ()):
        whole = finite_difference(method, forms, case.params)
        split = split_finite_difference(case, method, chunk=7)
        for name in case.params:
            for key in ("grads", "steps", "errors"):
                np.testing.assert_array_equal(
                    getattr(split, key)[name], getattr(whole, key)[name], err_msg=f"{path} {method} {key} {name}"
                )
        assert split.kinks == whole.kinks and split.method == whole.method


def test_split_finite_differences_over_two_workers():
    case = load_case(SUITE_DIR / "mlp" / "mlp-leaky-relu-sse-b4.json")
    whole = finite_difference("central", loss_forms(case), case.params)
    split = split_finite_difference(case, "central", jobs=2, chunk=5)
    assert all(np.array_equal(split.grads[n], whole.grads[n]) for n in case.params)
    assert split.kinks == whole.kinks


def test_run_over_workers_splits_the_finite_differences_of_a_big_case(tmp_path, monkeypatch):
    assert run_in(tmp_path / "one", "run", *FEW) == 0
    monkeypatch.setattr(split_fd, "SPLIT_FROM", 20)  # "big": 20 parameter entries or more
    monkeypatch.setattr(split_fd, "DEFAULT_CHUNK", 4)  # shares of 4 entries
    split, whole = [], split_fd.split_finite_difference
    monkeypatch.setattr(
        split_fd,
        "split_finite_difference",
        lambda case, method, **options: split.append(case.id) or whole(case, method, **options),
    )
    assert run_in(tmp_path / "split", "run", *FEW, "--jobs", "2") == 0
    assert_same_report(report(tmp_path / "one"), report(tmp_path / "split"))
    big = [load_case(path) for path in FEW]
    assert split == [case.id for case in big if sum(p.size for p in case.params.values()) >= 20] != []


def test_only_entrywise_methods_split():
    case = load_case(SUITE_DIR / "seed" / "seed-2-2-2.json")
    with pytest.raises(ValueError, match="does not split"):
        split_finite_difference(case, "directional")


def test_bench_jobs_says_each_speed_up_over_one_worker_and_refuses_bad_options(tmp_path):
    from refbp.bench import jobs as bench_jobs
    from refbp.bench.common import BenchUsageError
    from refbp.report.bench import write_bench_report

    frame = pd.DataFrame(
        [
            {"workload": "run", "setting": name, "speedup": speedup, "load_before": 0.5, "load_after": 0.7}
            for name, speedup in (("jobs 1", 1.0), ("jobs 2", 1.91), ("dask 1 workers", 1.0), ("dask 2 workers", 1.2))
        ]
    )
    assert bench_jobs.goal_lines(frame) == [
        "run jobs 2: 1.91x of jobs 1 (goal: close to 2x, 1.8x or more: met; load average 0.5..0.7)",
        "run dask 2 workers: 1.20x of dask 1 worker (goal: close to 2x, 1.8x or more: NOT met; load average 0.5..0.7)",
    ]
    written = write_bench_report(
        "jobs", frame, bench_jobs.goal_lines(frame), bench_jobs.environment(bench_jobs.Options()), tmp_path
    )
    assert pd.read_csv(written / "results.csv")["speedup"].tolist() == [1.0, 1.91, 1.0, 1.2]
    for bad in (bench_jobs.Options(jobs=1), bench_jobs.Options(workloads=("nope",)), bench_jobs.Options(rounds=0)):
        with pytest.raises(BenchUsageError, match="bench jobs"):
            bench_jobs.run(bad)
