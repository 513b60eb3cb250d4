"""`refbp check --cmd` when the command misbehaves (tests/pipe_servers.py): each bad behaviour is one
line on stderr naming the case and the problem and exit 2 (a broken conversation), or a failed
check / failed case (a wrong answer, an error message); never a hang or a traceback; the command
is stopped at the end, also when it ignores its stdin's end and SIGTERM, and on Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from refbp.cases import SUITE_DIR
from refbp.cli import main

ROOT = Path(__file__).resolve().parents[1]
SERVER = Path(__file__).resolve().parent / "pipe_servers.py"
FEW = [
    str(SUITE_DIR / "mlp" / "mlp-sigmoid-half-sse-b1.json"),
    str(SUITE_DIR / "published" / "fiqlab-2-2-1-sigmoid.json"),
    str(SUITE_DIR / "mlp" / "mlp-leaky-relu-sse-b4.json"),
]
TARGET = "fiqlab-2-2-1-sigmoid"
FIRST = f"case {TARGET}: evaluate outputs, loss, grads: "


def command(behaviour: str, pid_file: Path | None = None) -> str:
    return f"{sys.executable} {SERVER} {behaviour} {TARGET}" + (f" {pid_file}" if pid_file else "")


def check(capsys, behaviour: str, *argv: str, pid_file=None) -> tuple[int, str, str]:
    """`refbp check --cmd SERVER BEHAVIOUR FEW` in this process: (exit code, stdout, stderr)."""
    code = main(["check", "--cmd", command(behaviour, pid_file), *FEW, "--no-report", "--no-progress", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def gone(pid_file: Path) -> bool:
    try:
        os.kill(int(pid_file.read_text()), 0)
    except ProcessLookupError:
        return True
    return False


@pytest.fixture(autouse=True)
def no_reference_files(monkeypatch):
    monkeypatch.setenv("REFBP_REFERENCE_CACHE", "none")


@pytest.mark.parametrize(
    "behaviour, problem",
    [
        ("exit", "it closed its stdout: the command exited with code 3"),
        ("crash", "it closed its stdout: the command was killed by signal SIGSEGV"),
        (
            "partial",
            (
                r"it closed its stdout after writing part of a line \(20 bytes, no newline\): the command "
                "exited with code 0"
            ),
        ),
        ("wrong_id", r"answered id (\d+) to request \d+"),
        (
            "print",
            (
                r"line \d+ of its stdout is not JSON: 'debug: computing the gradients' \(anything but answers "
                r"goes to stderr\)"
            ),
        ),
        ("flood", r"it wrote more than 256 MiB without ending its line \(a flood of its stdout\): stopped"),
    ],
)
def test_a_broken_conversation_is_one_line_naming_the_case_and_exit_2(capsys, tmp_path, behaviour, problem):
    pid_file = tmp_path / "pid"
    code, _, err = check(capsys, behaviour, pid_file=pid_file)
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.startswith("refbp")]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert re.fullmatch(
        re.escape(f"refbp: error: --cmd {command(behaviour, pid_file)!r}: {FIRST}") + problem, lines[0]
    ), lines[0]
    assert gone(pid_file)


def test_a_hang_ends_at_the_timeout(capsys, tmp_path):
    pid_file = tmp_path / "pid"
    start = time.monotonic()
    code, _, err = check(capsys, "hang", "--timeout", "1", pid_file=pid_file)
    assert code == 2
    assert err.strip().endswith(f"{FIRST}no answer within 1 s (--timeout): stopped"), err
    assert time.monotonic() - start < 60  # a bound against a hang, not a timing
    assert gone(pid_file)


def test_nan_in_an_answer_is_a_failed_check_naming_the_tensor(capsys):
    code, out, err = check(capsys, "nan", "--json")
    assert code == 1, err
    verdicts = {v["case"]: v for v in json.loads(out)}
    cases = ("mlp-sigmoid-half-sse-b1", TARGET, "mlp-leaky-relu-sse-b4")
    assert [verdicts[c]["passed"] for c in cases] == [True, False, True]
    failed = [c for c in verdicts[TARGET]["checks"] if not c["passed"]]
    assert failed and {c["tensor"] for c in failed} == {"layers.0.weight"}, failed
    assert all(c["quantity"] == "grads" for c in failed)


def test_an_error_message_fails_its_case_and_the_others_go_on(capsys):
    code, out, err = check(capsys, "error", "--json")
    assert code == 1, err
    verdicts = {v["case"]: v for v in json.loads(out)}
    assert verdicts[TARGET]["error_kind"] == "crash"
    (error,) = verdicts[TARGET]["errors"]
    assert error.startswith(f"{FEW[1]}: the implementation raised CommandError: out of memory in layer 1"), error
    assert verdicts["mlp-sigmoid-half-sse-b1"]["passed"] and verdicts["mlp-leaky-relu-sse-b4"]["passed"]


def test_an_error_while_training_fails_the_training_rows_only(capsys):
    # As a raise in an adapter's train() under --impl: the forward and gradient rows are judged.
    target = "mlp-sigmoid-half-sse-b1"
    code = main(
        ["check", "--cmd", f"{sys.executable} {SERVER} train_error {target}", *FEW, "--no-report", "--no-progress"]
        + ["--json"]
    )
    out, err = capsys.readouterr()
    assert code == 1, err
    verdict = {v["case"]: v for v in json.loads(out)}[target]
    failed = {c["quantity"] for c in verdict["checks"] if not c["passed"]}
    passed = {c["quantity"] for c in verdict["checks"] if c["passed"]}
    assert {"outputs", "loss", "grads"} <= passed, verdict
    assert failed == {"params_after", "loss_after"}, failed
    notes = [c["note"] for c in verdict["checks"] if not c["passed"]]
    assert all("train() raised CommandError: out of memory in layer 1" in note for note in notes), notes


def test_a_quantity_wanted_and_missing_fails_its_case_naming_it(capsys):
    code, out, err = check(capsys, "missing", "--json")
    assert code == 1, err
    errors = {v["case"]: v["errors"] for v in json.loads(out)}[TARGET]
    assert len(errors) == 1 and errors[0].endswith("grads missing (an object of tensors by name)"), errors


def test_a_wrong_hello_is_refused_before_any_case(capsys):
    code, out, err = check(capsys, "bad_hello")
    assert code == 2 and out == ""
    assert err.strip() == (
        f"refbp: error: --cmd {command('bad_hello')!r}: its hello: protocol 'refbp-pipe/0': refbp speaks refbp-pipe/1"
    )


def test_a_command_that_cannot_start_is_one_line(capsys):
    code = main(["check", "--cmd", "/nonexistent/mlp --fast", FEW[0], "--no-report", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip() == (
        "refbp: error: --cmd '/nonexistent/mlp --fast': cannot start '/nonexistent/mlp': No such file or directory"
    )


@pytest.mark.parametrize("behaviour", ["ignore_eof", "ignore_term"])
def test_a_command_that_stays_is_stopped_at_the_end(capsys, tmp_path, behaviour):
    pid_file = tmp_path / "pid"
    code, _, err = check(capsys, behaviour, pid_file=pid_file)
    assert code == 0, err
    assert gone(pid_file)


def test_jobs_are_refused_with_cmd(capsys):
    assert main(["check", "--cmd", command("exit"), FEW[0], "--jobs", "2", "--no-report"]) == 2
    assert "--jobs and --executor are not for it" in capsys.readouterr().err


def test_ctrl_c_reports_the_cases_so_far_and_stops_the_command(tmp_path):
    pid_file = tmp_path / "pid"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "REFBP_DATABASE_URL": f"sqlite:///{tmp_path / 's.db'}",
        "REFBP_REFERENCE_CACHE": "none",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "refbp",
            "check",
            "--cmd",
            command("hang", pid_file),
            *FEW,
            "--no-report",
            "--no-progress",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        hanging = Path(f"{pid_file}.hanging")  # the first case checked, the second hanging
        deadline = time.monotonic() + 120
        while not hanging.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, err
    assert "Traceback" not in err and "mlp-sigmoid-half-sse-b1" in out, (out, err)
    assert gone(pid_file)


def test_fuzz_ends_at_a_broken_conversation_with_one_line(capsys):
    code = main(["fuzz", "--cmd", f"{sys.executable} {SERVER} exit @12", "--examples", "8", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().startswith(
        f"refbp: error: --cmd '{sys.executable} {SERVER} exit @12': case "
    ) and err.strip().endswith(": it closed its stdout: the command exited with code 3"), err
    assert len(err.strip().splitlines()) == 1


def test_fuzz_judges_nan_answers_as_failed_examples(capsys):
    code = main(
        ["fuzz", "--cmd", f"{sys.executable} {SERVER} nan @3", "--examples", "3", "--no-progress", "--no-shrink"]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "FAILED example 1: torch-autograd grads layers.0.weight[0][0]" in out, out


def test_the_commands_stderr_passes_through_and_stdout_stays_refbps(capfd):
    code = main(["check", "--cmd", command("stderr"), *FEW, "--json", "--no-report", "--no-progress"])
    out, err = capfd.readouterr()
    assert code == 0, err
    assert f"note from the command: case {TARGET}" in err
    assert [v["passed"] for v in json.loads(out)] == [True, True, True]
