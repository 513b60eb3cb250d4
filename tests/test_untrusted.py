"""The user's code cannot fake, hang or garble a verdict: `refbp check --impl` and `refbp fuzz
--impl` run it in guarded worker processes (refbp.parallel.guarded). An exit, an interrupt or
a death inside a call fails that case naming the case and the call; a hang ends at --timeout;
what it prints never reaches --json's stdout; Ctrl-C keeps the verdicts so far. The adapters
are tests/hostile_adapters.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from refbp.cases import SUITE_DIR
from refbp.cli import main

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = Path(__file__).resolve().parent / "hostile_adapters.py"
FEW = [
    str(SUITE_DIR / "seed" / "seed-2-2-2.json"),
    str(SUITE_DIR / "published" / "fiqlab-2-2-1-sigmoid.json"),
    str(SUITE_DIR / "mlp" / "mlp-leaky-relu-sse-b4.json"),
]
TARGET = "fiqlab-2-2-1-sigmoid.json: could not be checked: "


def impl(name: str) -> str:
    return f"{HOSTILE}:{name}"


def check_json(capsys, name: str, *argv: str) -> tuple[int, list, str]:
    """`refbp check --impl hostile:NAME FEW --json` in this process: (exit code, verdicts, stderr)."""
    code = main(["check", "--impl", impl(name), *FEW, "--json", "--no-report", "--no-progress", *argv])
    out, err = capsys.readouterr()
    return code, json.loads(out), err


def refbp(*argv: str, env=None, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "refbp", *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )


@pytest.mark.parametrize(
    "name, reason",
    [
        ("exit_0", "the implementation called sys.exit(0) in gradients()"),
        ("exit_1", "the implementation called sys.exit(1) in gradients()"),
        ("exit_none", "the implementation called sys.exit() in gradients()"),
        ("raise_system_exit", "the implementation called sys.exit() in gradients()"),
        ("interrupt", "the implementation raised KeyboardInterrupt in gradients()"),
        ("os_exit_0", "the implementation's process exited with code 0 (os._exit) during gradients()"),
    ],
)
def test_an_exit_inside_the_implementation_fails_its_case_and_the_others_go_on(capsys, name, reason):
    code, verdicts, err = check_json(capsys, name)
    assert code == 1, err
    assert [v["case"] for v in verdicts] == ["seed-2-2-2", "fiqlab-2-2-1-sigmoid", "mlp-leaky-relu-sse-b4"]
    assert [v["passed"] for v in verdicts] == [True, False, True]
    failed = verdicts[1]
    assert failed["error_kind"] == "crash" and failed["errors"] == [
        f"{FEW[1]}: could not be checked: {reason}"
        + (" (its worker process died 2 times: retried once)" if name == "os_exit_0" else "")
    ]
    assert f"{TARGET}{reason}" in err  # the table on stderr names the case and the call


def test_sys_exit_0_is_never_a_silent_pass():
    """The bug this guards against: `sys.exit(0)` in the implementation ended refbp with exit 0, no output."""
    done = refbp(
        "check", "--impl", impl("exit_0"), *FEW, "--no-report", "--no-progress", env={"REFBP_DATABASE_URL": "none"}
    )
    assert done.returncode == 1, done.stderr
    assert "FAIL  fiqlab-2-2-1-sigmoid" in done.stdout and "2/3 cases passed, 1 failed" in done.stdout
    assert f"{TARGET}the implementation called sys.exit(0) in gradients()" in done.stderr


def test_a_hang_fails_its_case_at_the_timeout_and_the_run_goes_on(capsys):
    start = time.monotonic()
    code, verdicts, err = check_json(capsys, "hang", "--timeout", "2")
    elapsed = time.monotonic() - start
    assert code == 1, err
    assert [v["passed"] for v in verdicts] == [True, False, True]
    assert verdicts[1]["errors"] == [
        f"{FEW[1]}: could not be checked: the implementation's gradients() did not "
        "finish within 2 s (--timeout): stopped"
    ]
    assert elapsed < 2 + 30  # the hang ended at the timeout (the rest: starting the worker and 3 small cases)


def test_what_the_implementation_prints_never_reaches_json_stdout():
    done = refbp(
        "check",
        "--impl",
        impl("print_flood"),
        *FEW,
        "--json",
        "--no-report",
        "--no-progress",
        env={"REFBP_DATABASE_URL": "none"},
    )
    assert done.returncode == 0, done.stderr
    verdicts = json.loads(done.stdout)  # stdout is the verdicts and nothing else
    assert [v["passed"] for v in verdicts] == [True, True, True]
    assert "hello from the implementation" in done.stderr and "straight to file descriptor 1" in done.stderr


def test_an_import_that_exits_or_hangs_is_a_usage_error(tmp_path, capsys):
    exits = tmp_path / "exits_on_import.py"
    exits.write_text("import sys\nsys.exit(3)\n")
    hangs = tmp_path / "hangs_on_import.py"
    hangs.write_text("while True:\n    pass\n")
    assert main(["check", "--impl", f"{exits}:factory", FEW[0], "--no-report", "--no-progress"]) == 2
    assert "the implementation called sys.exit(3) while its module was imported" in capsys.readouterr().err
    assert main(["check", "--impl", f"{hangs}:factory", FEW[0], "--no-report", "--no-progress", "--timeout", "1"]) == 2
    assert "importing the implementation did not finish within 1 s" in capsys.readouterr().err


@pytest.mark.parametrize("timeout", ["0", "-1", "nan"])
def test_a_timeout_that_is_not_a_positive_number_is_a_usage_error(capsys, timeout):
    assert main(["check", "--impl", impl("exit_0"), FEW[0], "--no-report", "--timeout", timeout]) == 2
    assert "--timeout" in capsys.readouterr().err


def test_ctrl_c_keeps_the_verdicts_so_far(tmp_path):
    started, reports = tmp_path / "started", tmp_path / "reports"
    started.mkdir()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "refbp",
            "check",
            "--impl",
            impl("slow"),
            str(SUITE_DIR / "mlp"),
            "--json",
            "--no-progress",
            "--report-dir",
            str(reports),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "REFBP_TEST_STARTED": str(started),
            "REFBP_HOSTILE_SLOW": "0.3",
            "REFBP_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}",
        },
    )
    deadline = time.monotonic() + 240
    while len(list(started.iterdir())) < 4 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)  # three cases done, the fourth running
    assert process.poll() is None, process.communicate()
    process.send_signal(signal.SIGINT)  # refbp's process only: its workers ignore Ctrl-C, it stops them
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    verdicts = json.loads(out)
    assert 3 <= len(verdicts) < 25 and all(v["passed"] for v in verdicts)
    assert f"interrupted (Ctrl-C) after {len(verdicts)} of 25 cases" in err and "Traceback" not in err
    (report,) = reports.iterdir()
    assert "interrupted" in json.loads((report / "environment.json").read_text())
    assert len(json.loads((report / "verdicts.json").read_text())) == len(verdicts)


@pytest.mark.parametrize(
    "name, reason",
    [
        ("hang", "crash: the implementation's gradients() did not finish within 2 s (--timeout): stopped"),
        ("exit_0", "crash: the implementation called sys.exit(0) in gradients()"),
        ("os_exit_0", "crash: the implementation's process exited with code 0 (os._exit) during gradients()"),
    ],
)
def test_fuzz_fails_the_example_instead_of_hanging_or_exiting(capsys, monkeypatch, name, reason):
    monkeypatch.setenv("REFBP_HOSTILE_CASE", "all")
    code = main(
        [
            "fuzz",
            "--impl",
            impl(name),
            "--examples",
            "2",
            "--kind",
            "mlp",
            "--no-shrink",
            "--no-progress",
            "--timeout",
            "2",
        ]
    )
    out = capsys.readouterr().out
    assert code == 1, out
    assert f"FAILED example 0: {reason}" in out and "FAILED example 1: " in out


def test_fuzz_shrinks_an_exiting_example_in_guarded_workers(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("REFBP_HOSTILE_CASE", "all")
    code = main(
        [
            "fuzz",
            "--impl",
            impl("exit_1"),
            "--examples",
            "1",
            "--kind",
            "mlp",
            "--no-progress",
            "--save-failures",
            str(tmp_path),
            "--timeout",
            "5",
        ]
    )
    out = capsys.readouterr().out
    assert code == 1, out
    (saved,) = tmp_path.glob("*.json")
    assert "sys.exit(1) in gradients()" in out and json.loads(saved.read_text())["network"]["sizes"]


def test_a_hung_worker_never_outlives_refbp(tmp_path):
    """refbp killed outright (SIGKILL) while the implementation hangs: its worker ends too."""
    started = tmp_path / "started"
    started.mkdir()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "refbp",
            "check",
            "--impl",
            impl("hang"),
            FEW[1],
            "--no-report",
            "--no-progress",
            "--timeout",
            "300",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "REFBP_DATABASE_URL": "none"},
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # until the worker runs (refbp's process, the fork server, the worker)
        left = subprocess.run(["pgrep", "-s", str(process.pid)], capture_output=True, text=True).stdout.split()
        if len(left) >= 4:
            break
        time.sleep(0.2)
    time.sleep(2)  # into the hanging call
    process.kill()
    process.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        left = subprocess.run(["pgrep", "-s", str(process.pid)], capture_output=True, text=True).stdout.split()
        if not left:
            break
        time.sleep(0.2)
    assert left == []


def test_a_call_ending_while_its_board_is_read_is_not_a_timeout():
    """The worker clears its board (start 0, then code 0) while refbp's process reads it: a read of
    the running call's code paired with the cleared start read as overdue by the whole clock (a
    false "did not finish within 60 s"). A board that changes during the read is read again."""
    from refbp.parallel.guarded import POLL, GuardedWorker
    from refbp.parallel.guarded_worker import CODES

    class Board:  # the running call's start, then (the worker ends it) a cleared start
        def __init__(self):
            self.starts = iter([100.0, 0.0])

        def __getitem__(self, index):
            return CODES["loss"] if index == 0 else next(self.starts)

    worker = GuardedWorker.__new__(GuardedWorker)
    worker.board = Board()
    assert worker.seconds_left(60.0, now=130.0) == POLL
    worker.board = [CODES["loss"], 100.0]
    assert worker.seconds_left(60.0, now=130.0) == 30.0
    assert worker.seconds_left(60.0, now=161.0) < 0
