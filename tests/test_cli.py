"""The command line, in process: exit codes, the table, the report, bad input."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from helpers import write_case
from refbp.cases import SUITE_DIR
from refbp.check.suite import case_files
from refbp.cli import main

SEED = SUITE_DIR / "seed" / "seed-2-2-2.json"


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def only_report(report_dir):
    runs = sorted(report_dir.iterdir())
    assert len(runs) == 1
    return runs[0]


def test_seed_copied_verbatim_passes(tmp_path, capsys):
    folder = tmp_path / "anywhere"
    folder.mkdir()
    shutil.copy(SEED, folder / "seed-2-2-2.json")
    code, out, _ = run_cli(capsys, "run", folder, "--report-dir", tmp_path / "reports")
    assert code == 0, out
    assert "PASS  seed-2-2-2" in out and "1/1 cases passed" in out
    report = only_report(tmp_path / "reports")
    for name in (
        "details.csv",
        "summary.csv",
        "summary.md",
        "report.html",
        "environment.json",
        "verdicts.json",
        "errors.png",
    ):
        assert (report / name).stat().st_size > 0, name
    details = pd.read_csv(report / "details.csv")
    assert set(details["reference"]) == {"torch-autograd", "finite-difference", "expected"}
    assert details["passed"].all()
    env = json.loads((report / "environment.json").read_text())
    assert {"numpy", "torch", "python", "device", "reference_dtype", "seed"} <= set(env)


def test_altered_published_value_fails_with_the_entry_named(tmp_path, capsys, seed_document):
    seed_document["expected"]["grads"]["layers.1.weight"][0][0] = 0.082167141  # one digit changed
    write_case(tmp_path, seed_document)
    code, out, _ = run_cli(capsys, "run", tmp_path / "seed-2-2-2.json", "--report-dir", tmp_path / "reports")
    assert code == 1
    assert "FAIL  seed-2-2-2" in out
    assert "grads layers.1.weight[0][0] vs expected" in out
    details = pd.read_csv(only_report(tmp_path / "reports") / "details.csv")
    failed = details[~details["passed"]]
    assert failed[["quantity", "tensor", "reference", "worst_index"]].values.tolist() == [
        ["grads", "layers.1.weight", "expected", "[0, 0]"]
    ]


def test_bad_files_exit_2_and_the_good_case_still_runs(tmp_path, capsys, seed_document):
    folder = tmp_path / "mixed"
    folder.mkdir()
    write_case(folder, seed_document)
    (folder / "broken.json").write_text('{"format": "refbp-case/1", "id": "broken",')
    wrong_shape = dict(seed_document, id="wrong-shape", inputs=[[0.05, 0.1, 0.2]])
    write_case(folder, wrong_shape)
    unknown = json.loads(json.dumps(seed_document))
    unknown["id"] = "unknown-activation"
    unknown["network"]["activations"] = ["sigmoid", "swish"]
    write_case(folder, unknown)
    (folder / "nan-input.json").write_text(
        json.dumps(dict(seed_document, id="nan-input")).replace("[[0.05, 0.1]]", "[[NaN, 0.1]]")
    )

    code, out, err = run_cli(capsys, "run", folder, "--report-dir", tmp_path / "reports", "--json")
    assert code == 2
    verdicts = {v["case"]: v for v in json.loads(out)}  # stdout holds the verdicts only
    assert verdicts["seed-2-2-2"]["passed"] is True and verdicts["seed-2-2-2"]["checks"]
    problems = {
        "broken": "invalid JSON",
        "wrong-shape": "inputs: shape [1, 3] does not match the expected shape [B, 2]",
        "unknown-activation": "network.activations[1]: unknown activation 'swish'",
        "nan-input": "NaN is not allowed",
    }
    for case, words in problems.items():
        [error] = verdicts[case]["errors"]
        assert f"{case}.json" in error and words in error, error
        assert verdicts[case]["passed"] is False
        assert words in err  # the table on stderr shows it too
    summary = pd.read_csv(only_report(tmp_path / "reports") / "summary.csv")
    assert sorted(summary["case"]) == sorted(["seed-2-2-2", *problems])
    assert summary.set_index("case").loc["seed-2-2-2", "passed"]


def test_explain_prints_the_seed_decomposition(capsys):
    code, out, _ = run_cli(capsys, "explain", "seed-2-2-2", "--param", "w5")
    assert code == 0
    assert "0.74136507 x 0.186815602 x 0.593269992 = 0.082167041" in out
    code, out, _ = run_cli(capsys, "explain", SEED, "--param", "w1")
    assert code == 0
    assert "= 0.036350306" in out
    assert "0.036350306 x 0.241300709 x 0.05 = 0.000438568" in out
    code, plain, _ = run_cli(capsys, "explain", SEED, "--param", "layers.0.weight[0][0]")
    assert code == 0 and "0.036350306 x 0.241300709 x 0.05 = 0.000438568" in plain


@pytest.mark.parametrize(
    "argv, words",
    [
        (["explain", "seed-2-2-2", "--param", "w9"], "unknown parameter 'w9'"),
        (["explain", "no-such-case", "--param", "w1"], "no such case"),
        (["run", "--oracle", "torch,magic"], "unknown reference magic"),
        (["run", "/no/such/folder"], "no such file or folder"),
    ],
)
def test_usage_errors_exit_2(capsys, argv, words):
    code, _, err = run_cli(capsys, *argv)
    assert code == 2 and words in err


def test_reports_are_never_overwritten(tmp_path, capsys):
    for _ in range(2):
        assert run_cli(capsys, "run", SEED, "--report-dir", tmp_path, "--oracle", "expected")[0] == 0
    assert len(list(tmp_path.iterdir())) == 2


def test_installed_suite_found_from_any_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    files = case_files()
    assert SEED in files and len(files) >= 21
    assert all(f.is_absolute() for f in files)


def test_cases_export_writes_the_explicit_form(tmp_path, capsys):
    code, _out, _ = run_cli(capsys, "cases", "export", tmp_path, SUITE_DIR / "mlp" / "mlp-xavier-relu-ce-b64.json")
    assert code == 0
    document = json.loads((tmp_path / "mlp-xavier-relu-ce-b64.json").read_text())
    assert isinstance(document["params"]["layers.0.weight"], list)
    assert isinstance(document["inputs"], list) and len(document["inputs"]) == 64
    assert run_cli(capsys, "run", tmp_path, "--report-dir", tmp_path / "r", "--oracle", "torch")[0] == 0


def test_help_explains(capsys):
    code, out, _ = run_cli(capsys, "run", "--help")
    assert code == 0 and "Exit codes" in out and "--oracle" in out


def test_shipped_suite_passes_from_another_directory(tmp_path, monkeypatch, capsys):
    """`refbp run` with no path: the installed suite, every reference, all cases pass."""
    monkeypatch.chdir(tmp_path)
    code, out, _ = run_cli(capsys, "run", "--no-progress")
    assert code == 0, out
    summary = pd.read_csv(only_report(tmp_path / "reports") / "summary.csv")
    assert len(summary) == len(case_files()) and summary["passed"].all()
