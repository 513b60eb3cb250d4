"""The command line under bad input (issue "Hardening", item 7, and Ctrl-C): each problem is ONE
line on stderr naming the file or option, the field and the problem, with exit 2 (bad input or
usage), 1 (a failed check) or 130 (Ctrl-C), never a traceback, and nothing found or computed
before it is lost. One test per item; run as root, a read-only folder is simulated (os.access,
or a write that fails), or a path under a file is used."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from refbp.cases import SUITE_DIR, load_case
from refbp.check.results import answer_document
from refbp.cli import main
from refbp.nn import compute_trace

ROOT = Path(__file__).resolve().parents[1]
SEED = SUITE_DIR / "seed" / "seed-2-2-2.json"
FIQLAB = SUITE_DIR / "published" / "fiqlab-2-2-1-sigmoid.json"
EXAMPLES = ROOT / "examples"

# An adapter (`--impl FILE:NAME`): examples/numpy_mlp.py, with its gradients changed as NAME says.
ADAPTERS = f"""
import os, time
from pathlib import Path
import numpy as np
from refbp.check.adapter import load_factory

CORRECT = load_factory({str(EXAMPLES / "numpy_mlp.py")!r} + ":factory")


class Changed:
    def __init__(self, inner, change):
        self._inner, self._change = inner, change

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def gradients(self, params, inputs, targets):
        marks = os.environ.get("REFBP_TEST_MARKS")
        if marks:  # one file per call, for a test to wait on; slow enough to be interrupted
            Path(marks, f"{{time.monotonic_ns()}}").write_text("")
            time.sleep(0.2)
        return self._change(dict(self._inner.gradients(params, inputs, targets)))


def _made(change):
    def factory(case):
        inner = CORRECT(case)
        return None if inner is None else Changed(inner, change)
    factory.kinds = ("mlp",)
    return factory


def _extra(grads):
    grads["layers.9.weight"] = np.zeros((2, 2))
    return grads


def _complex(grads):
    grads["layers.1.weight"] = grads["layers.1.weight"] + 0.5j
    return grads


def _real_complex(grads):
    return {{name: value + 0j for name, value in grads.items()}}


extra = _made(_extra)
complex_values = _made(_complex)
complex_but_real = _made(_real_complex)
shifted = _made(lambda grads: {{name: value + 1.0 for name, value in grads.items()}})  # wrong even at zero
"""


@pytest.fixture
def adapters(tmp_path) -> Path:
    path = tmp_path / "adapters.py"
    path.write_text(ADAPTERS)
    return path


def one_line(err: str) -> str:
    """The only line on stderr (and never a traceback)."""
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def result_of(case_path: Path) -> dict:
    case = load_case(case_path)
    return answer_document(case.id, "tests", compute_trace(case))


def refuse_writing_into(monkeypatch, folder: Path) -> None:
    """As a read-only folder would for another user (root writes anywhere): os.access says no."""
    real = os.access
    monkeypatch.setattr(
        os, "access", lambda path, mode, *a, **k: False if Path(path) == folder else real(path, mode, *a, **k)
    )


# 1 ------------------------------------------------------------------------------------------
def test_compare_refuses_a_report_dir_it_cannot_write_before_reading_anything(tmp_path, capsys, monkeypatch):
    verdicts = tmp_path / "verdicts.json"
    code, out, _ = cli(capsys, "run", SEED, "--oracle", "expected", "--no-report", "--json")
    assert code == 0
    verdicts.write_text(out)
    a_file, locked = tmp_path / "a-file", tmp_path / "locked"
    a_file.write_text("")
    locked.mkdir()
    code, _, err = cli(capsys, "compare", verdicts, "--report-dir", a_file)
    assert code == 2 and f"--report-dir {a_file}: is a file, not a folder" in one_line(err)
    code, _, err = cli(capsys, "compare", verdicts, "--report-dir", a_file / "sub")
    assert code == 2 and f"{a_file} is a file, not a folder" in one_line(err)
    refuse_writing_into(monkeypatch, locked)
    code, _, err = cli(capsys, "compare", verdicts, "--report-dir", locked)
    assert code == 2 and f"--report-dir {locked}: cannot write into {locked}" in one_line(err)
    monkeypatch.undo()
    # A folder that refuses the comparison after all: the table printed is kept, one line says why.
    import refbp.compare.write

    def refused(columns, report_dir):
        raise PermissionError(13, "Permission denied", str(report_dir))

    monkeypatch.setattr(refbp.compare.write, "write_comparison", refused)
    code, out, err = cli(capsys, "compare", verdicts, "--report-dir", tmp_path / "reports")
    assert code == 2 and "seed-2-2-2" in out
    assert "cannot write the comparison: Permission denied" in one_line(err)


def test_a_report_folder_that_refuses_the_report_after_the_run_loses_nothing(tmp_path, capsys, monkeypatch):
    import refbp.cli.outcome

    def refused(run, args, *extra):
        raise PermissionError(13, "Permission denied", str(tmp_path / "reports"))

    monkeypatch.setattr(refbp.cli.outcome, "write_report_of", refused)
    code, out, err = cli(
        capsys, "run", SEED, "--oracle", "expected", "--no-progress", "--report-dir", tmp_path / "reports"
    )
    assert code == 2 and "PASS  seed-2-2-2" in out
    line = one_line(err)
    assert f"--report-dir {tmp_path / 'reports'}: cannot write the report: Permission denied" in line
    elsewhere = Path(line.split("; it was written in ")[1].split(" instead")[0])
    assert json.loads((elsewhere / "verdicts.json").read_text())[0]["case"] == "seed-2-2-2"


# 2 ------------------------------------------------------------------------------------------
def test_fuzz_refuses_a_negative_seed(capsys):
    code, _, err = cli(capsys, "fuzz", "--seed", "-1", "--examples", "1")
    assert code == 2 and one_line(err) == "refbp: error: --seed -1: must be 0 or more"


# 3 ------------------------------------------------------------------------------------------
def test_fuzz_save_failures_is_checked_first_and_the_failures_are_never_lost(tmp_path, capsys, monkeypatch, adapters):
    a_file, locked = tmp_path / "a-file", tmp_path / "locked"
    a_file.write_text("")
    locked.mkdir()
    started = time.monotonic()
    code, _, err = cli(capsys, "fuzz", "--examples", "50", "--save-failures", a_file / "sub")
    assert code == 2 and f"--save-failures {a_file / 'sub'}: {a_file} is a file, not a folder" in one_line(err)
    refuse_writing_into(monkeypatch, locked)
    code, _, err = cli(capsys, "fuzz", "--examples", "50", "--save-failures", locked)
    assert code == 2 and f"--save-failures {locked}: cannot write into {locked}" in one_line(err)
    assert time.monotonic() - started < 20  # refused before any example was drawn
    monkeypatch.undo()
    # The folder refuses the files after the run all the same: they go to a temporary folder, named.
    import refbp.fuzz.run as fuzz_run

    real_save = fuzz_run.save_regression

    def save(document, directory):
        if Path(directory) == locked:
            raise PermissionError(13, "Permission denied", str(Path(directory) / f"{document['id']}.json"))
        return real_save(document, directory)

    monkeypatch.setattr(fuzz_run, "save_regression", save)
    code, out, err = cli(
        capsys,
        "fuzz",
        "--impl",
        f"{adapters}:shifted",
        "--kind",
        "mlp",
        "--examples",
        "2",
        "--no-shrink",
        "--no-progress",
        "--save-failures",
        locked,
    )
    assert code == 2, out + err
    line = one_line(err)
    assert f"--save-failures {locked}: cannot write the failures: Permission denied" in line
    elsewhere = Path(line.split(" were saved in ")[1].split(" instead")[0])
    saved = sorted(elsewhere.glob("fuzz-mlp-*.json"))
    assert saved and f"saved {saved[0]}" in out and not list(locked.iterdir())


# 4 ------------------------------------------------------------------------------------------
def test_check_fails_a_gradient_of_a_tensor_the_case_does_not_have(capfd, adapters):
    code = main(["check", "--impl", f"{adapters}:extra", str(SEED), "--no-report", "--no-progress"])
    out, err = capfd.readouterr()
    assert code == 1, out + err
    assert "FAIL  seed-2-2-2" in out and "Traceback" not in err
    assert (
        "grads layers.9.weight vs torch-autograd" in out
        and "wrong answer: unknown parameter (this case has: layers.0.weight" in out
    )


# 5 ------------------------------------------------------------------------------------------
def test_check_fails_complex_gradients_without_a_warning(capfd, adapters):
    code = main(["check", "--impl", f"{adapters}:complex_values", str(SEED), "--no-report", "--no-progress"])
    out, err = capfd.readouterr()
    assert code == 1, out + err
    assert "grads layers.1.weight vs torch-autograd" in out
    assert "wrong answer: complex values: imaginary part up to 0.5" in out
    assert "ComplexWarning" not in err and "Traceback" not in err
    # complex numbers whose imaginary parts are all zero are the real numbers they are
    code = main(["check", "--impl", f"{adapters}:complex_but_real", str(SEED), "--no-report", "--no-progress"])
    out, err = capfd.readouterr()
    assert code == 0 and "ComplexWarning" not in err, out + err


# 6 ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["empty", "named-like-a-file", "symlink-loop", "only-a-link-to-itself"])
def test_a_folder_that_gives_nothing_beside_a_good_case_is_reported(tmp_path, capsys, kind):
    if kind == "empty":
        path, words = tmp_path / "empty", "is a folder that holds no *.json file"
        path.mkdir()
    elif kind == "named-like-a-file":
        path, words = tmp_path / "x.json", "is a folder, not a file, and holds no *.json file"
        path.mkdir()
    elif kind == "symlink-loop":
        path, words = tmp_path / "loop-a", "a loop of symbolic links"
        path.symlink_to(tmp_path / "loop-b")
        (tmp_path / "loop-b").symlink_to(path)
    else:
        path, words = tmp_path / "folder", "1 symbolic link(s) to folders in it, not followed"
        path.mkdir()
        (path / "itself").symlink_to(path)
    code, out, err = cli(capsys, "run", SEED, path, "--oracle", "expected", "--no-report", "--no-progress")
    assert code == 2
    line = one_line(err)
    assert line.startswith(f"{path}: ") and words in line
    assert "PASS  seed-2-2-2" in out  # the good case is still checked and reported


# 7 ------------------------------------------------------------------------------------------
def test_explain_says_in_one_line_that_a_value_is_not_finite(tmp_path, capsys):
    document = result_of(SEED)
    trace = compute_trace(load_case(SEED))
    document["intermediates"] = {k: np.asarray(v).tolist() for k, v in trace.intermediates.items()}
    document["error_signals"] = {k: np.asarray(v).tolist() for k, v in trace.error_signals.items()}
    nan, huge = json.loads(json.dumps(document)), json.loads(json.dumps(document))
    nan["error_signals"]["layers.1.grad_out"][0][0] = float("nan")
    huge["error_signals"]["layers.1.grad_out"][0][0] = 1e-300
    huge["error_signals"]["layers.1.grad_net"][0][0] = 1e300
    huge["intermediates"]["layers.1.out"][0][0] = 1e300
    for name, given in (("nan", nan), ("huge", huge)):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(given))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            code, out, err = cli(capsys, "explain", "seed-2-2-2", "--param", "w5", "--result", path)
        assert code == 0 and not caught and not err, (caught, err)
        said = [line for line in out.splitlines() if line.strip().startswith("implementation:")]
        assert len(said) == 1 and "nan x" not in out and "x nan" not in out
        assert (
            "error_signals.layers.1.grad_out[0][0] is nan, not a finite number" in said[0]
            if name == "nan"
            else "is not finite (they overflow float64)" in said[0]
        )


# 8 ------------------------------------------------------------------------------------------
def test_cases_export_never_overwrites_without_force(tmp_path, capsys):
    folder = tmp_path / "exported"
    assert cli(capsys, "cases", "export", folder, SEED)[0] == 0
    exported = folder / "seed-2-2-2.json"
    exported.write_text("mine\n")
    code, out, err = cli(capsys, "cases", "export", folder, SEED, FIQLAB)
    assert code == 2 and not out
    assert f"{exported}: already exists: not overwritten, nothing exported (--force overwrites)" in one_line(err)
    assert exported.read_text() == "mine\n" and not (folder / "fiqlab-2-2-1-sigmoid.json").exists()
    code, out, _ = cli(capsys, "cases", "export", folder, SEED, "--force")
    assert code == 0 and json.loads(exported.read_text())["id"] == "seed-2-2-2"


# 9 ------------------------------------------------------------------------------------------
def test_a_file_over_the_size_limit_is_refused_before_it_is_parsed(tmp_path, capsys, monkeypatch):
    import refbp.cases.jsonio

    big = tmp_path / "big.json"
    with open(big, "wb") as file:  # sparse: 65 MiB that take no disk
        file.truncate(65 * 2**20)
    real_parse = refbp.cases.jsonio.parse_json

    def parse(text, path=None, *args, **kwargs):
        assert path is None or Path(path) != big, "parsed a file over the limit"
        return real_parse(text, path, *args, **kwargs)

    monkeypatch.setattr(refbp.cases.jsonio, "parse_json", parse)
    for command in (["run", big, "--no-report", "--no-progress"], ["verify", big, "--no-report", "--no-progress"]):
        code, _, err = cli(capsys, *command)
        assert code == 2
        assert (
            one_line(err) == f"{big}: 65 MiB: more than the limit of 64 MiB for one file (refused before it is parsed)"
        )


# 10 -----------------------------------------------------------------------------------------
def test_verify_takes_no_progress(tmp_path, capsys):
    result = tmp_path / "seed.json"
    result.write_text(json.dumps(result_of(SEED)))
    code, out, err = cli(capsys, "verify", result, "--no-progress", "--no-report", "--oracle", "torch")
    assert code == 0 and "PASS  seed-2-2-2" in out and not err.strip(), err


# 11 -----------------------------------------------------------------------------------------
def test_serve_says_where_it_serves_and_hides_the_store_password(capsys, monkeypatch):
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: None)
    monkeypatch.setattr("refbp.cli.serve_cmd.store_problem", lambda database: None)  # no server at db.example
    code, out, err = cli(
        capsys, "serve", "--port", "8123", "--database", "postgresql+psycopg://bob:s3cret@db.example:5432/verdicts"
    )
    assert code == 0 and not out
    line = one_line(err)
    assert line.startswith("refbp serve: http://127.0.0.1:8123/ ")
    assert "postgresql+psycopg://bob:***@db.example:5432/verdicts" in line and "s3cret" not in line


# 12 -----------------------------------------------------------------------------------------
def test_history_takes_a_unique_prefix_and_shows_only_failed_rows(capsys, monkeypatch):
    import types

    import refbp.store.record
    from refbp.store import open_store, run_checks

    ids = iter(["abc1" + "0" * 28, "abc2" + "0" * 28])
    monkeypatch.setattr(
        refbp.store.record, "uuid", types.SimpleNamespace(uuid4=lambda: types.SimpleNamespace(hex=next(ids)))
    )
    bug = f"{EXAMPLES / 'numpy_mlp_sigmoid_bug.py'}:factory"
    for _ in range(2):
        assert cli(capsys, "check", "--impl", bug, SEED, "--no-report", "--no-progress")[0] == 1
    code, _, err = cli(capsys, "history", "--run", "abc")
    assert code == 2
    assert "--run abc: more than one run has an id starting so" in one_line(err)
    assert "abc1" + "0" * 28 in err and "abc2" + "0" * 28 in err
    rows = run_checks(open_store(), "abc1" + "0" * 28)
    failed = int((rows["passed"] == False).sum())  # noqa: E712 (pandas)
    assert 0 < failed < len(rows)  # the failed case has passing rows too
    code, out, err = cli(capsys, "history", "--run", "abc1")
    assert code == 0 and one_line(err) == "run abc1" + "0" * 28
    assert len(out.strip().splitlines()) == 1 + failed  # the header and the failed rows only
    code, out, _ = cli(capsys, "history", "--run", "abc1", "--all")
    assert code == 0 and len(out.strip().splitlines()) == 1 + len(rows)


# 13 -----------------------------------------------------------------------------------------
SLOW_RUN = """
import sys, time
from pathlib import Path
import refbp.check.suite as suite
import refbp.check.verify as verify

def slowed(function):
    def slow(*args, **kwargs):
        Path(sys.argv[1], str(time.monotonic_ns())).write_text("")
        time.sleep(0.3)
        return function(*args, **kwargs)
    return slow

suite.run_one = slowed(suite.run_one)
verify._verify_pair = slowed(verify._verify_pair)
from refbp.cli import main
sys.exit(main(sys.argv[2:]))
"""


def interrupted(command: list, marks: Path, after: int, env: dict | None = None) -> tuple[int, str, str]:
    """Run `command`, send SIGINT (to refbp's process only) once `after` files are in `marks`."""
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "REFBP_DATABASE_URL": "none", **(env or {})},
    )
    deadline = time.monotonic() + 240
    while len(list(marks.iterdir())) < after and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, process.communicate()
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    return process.returncode, out, err


def only_report(reports: Path) -> Path:
    (report,) = reports.iterdir()
    return report


@pytest.mark.parametrize("command", ["run", "verify", "fuzz"])
def test_ctrl_c_keeps_what_was_found_so_far(tmp_path, command, adapters):
    marks, reports = tmp_path / "marks", tmp_path / "reports"
    marks.mkdir()
    cases = sorted((SUITE_DIR / "published").glob("*.json"))
    if command == "fuzz":
        saved = tmp_path / "saved"
        code, out, err = interrupted(
            [
                sys.executable,
                "-m",
                "refbp",
                "fuzz",
                "--impl",
                f"{adapters}:shifted",
                "--kind",
                "mlp",
                "--examples",
                "200",
                "--no-progress",
                "--save-failures",
                str(saved),
            ],
            marks,
            3,
            env={"REFBP_TEST_MARKS": str(marks)},
        )
        assert code == 130 and "Traceback" not in err, err
        assert out.startswith("refbp fuzz: INTERRUPTED (Ctrl-C): ") and "FAILED example 0: " in out
        assert "refbp: note: interrupted (Ctrl-C) after " in err
        assert list(saved.glob("fuzz-mlp-*.json"))  # the failures found so far, saved as drawn
        return
    if command == "verify":
        results = tmp_path / "results"
        results.mkdir()
        for path in cases:
            (results / path.name).write_text(json.dumps(result_of(path)))
        (results / "zz-not-json.json").write_text("{")  # bad input found before Ctrl-C: kept
        argv = ["verify", str(results), "--cases", str(SUITE_DIR / "published")]
    else:
        argv = ["run", *map(str, cases)]
    code, out, err = interrupted(
        [
            sys.executable,
            "-c",
            SLOW_RUN,
            str(marks),
            *argv,
            "--no-progress",
            "--oracle",
            "torch",
            "--report-dir",
            str(reports),
        ],
        marks,
        3,
    )
    assert code == 130 and "Traceback" not in err, err
    note = [line for line in err.splitlines() if line.startswith("refbp: note: interrupted (Ctrl-C) after ")]
    assert len(note) == 1, err
    shown = [line for line in out.splitlines() if line.startswith("PASS  ")]
    assert 2 <= len(shown) < len(cases)
    report = only_report(reports)
    verdicts = json.loads((report / "verdicts.json").read_text())
    assert len(verdicts) == len(shown) + (command == "verify")
    if command == "verify":
        assert "zz-not-json.json: invalid JSON" in err
    assert "interrupted" in json.loads((report / "environment.json").read_text())
    assert (report / "summary.md").read_text().splitlines()[2].startswith("INTERRUPTED (Ctrl-C) after ")
    assert 'id="verdict">INTERRUPTED (Ctrl-C) after ' in (report / "report.html").read_text()
