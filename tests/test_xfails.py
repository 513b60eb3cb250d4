"""--xfails FILE and --strict-xfail: expected failures are XFAIL and do not fail the run, an
entry whose rows pass is XPASS, a bad file is one line and exit 2 before any work."""

from __future__ import annotations

from pathlib import Path

import pytest

from refbp.cases import SUITE_DIR
from refbp.check.suite import SuiteRun
from refbp.check.verdict import CaseVerdict, Check
from refbp.check.xfails import XFAIL, XPASS, XfailsError, read_xfails, with_expectations
from refbp.cli import main

SEED = SUITE_DIR / "seed" / "seed-2-2-2.json"
TANH = SUITE_DIR / "mlp" / "mlp-tanh-mse-b8-momentum.json"
SIGMOID_BUG = Path(__file__).resolve().parents[1] / "examples" / "numpy_mlp_sigmoid_bug.py"


def xfails(tmp_path, text: str) -> Path:
    path = tmp_path / "xfails.txt"
    path.write_text(text)
    return path


def check(capsys, *argv):
    code = main(["check", "--impl", f"{SIGMOID_BUG}:factory", "--no-report", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def test_without_xfails_the_bug_fails_the_run(capsys):
    code, out, _ = check(capsys, SEED)
    assert code == 1 and "FAIL  seed-2-2-2" in out


def test_every_failure_covered_is_xfail_and_exits_0(tmp_path, capsys):
    path = xfails(
        tmp_path,
        "# known bugs\nseed-2-2-2/grads   # sigmoid slope, issue 12\n"
        "seed-2-2-2/params_after  # follows\nseed-2-2-2/loss_after  # follows\n",
    )
    code, out, _ = check(capsys, SEED, "--xfails", path)
    assert code == 0, out
    assert "XFAIL  seed-2-2-2" in out
    assert "XFAIL  seed-2-2-2: sigmoid slope, issue 12; follows" in out
    assert "; 1 XFAIL, 0 XPASS" in out


def test_a_failure_no_entry_covers_still_fails(tmp_path, capsys):
    path = xfails(tmp_path, "seed-2-2-2/grads/layers.0.*   # only the first layer\n")
    code, out, _ = check(capsys, SEED, "--xfails", path)
    assert code == 1 and "FAIL  seed-2-2-2" in out


def test_an_entry_that_passes_is_xpass_and_fails_only_under_strict_xfail(tmp_path, capsys):
    path = xfails(tmp_path, "seed-2-2-2  # the whole case\nmlp-tanh-*/grads  # was wrong once\nno-such-case  # gone\n")
    code, out, _ = check(capsys, SEED, TANH, "--xfails", path)
    assert code == 0, out
    assert "XPASS  mlp-tanh-mse-b8-momentum" in out
    assert f"mlp-tanh-*/grads was expected to fail (was wrong once) but passed: remove it from {path}:2" in out
    assert f"note: {path}:3: no-such-case matches no case of this run" in out
    code, out, _ = check(capsys, SEED, TANH, "--xfails", path, "--strict-xfail")
    assert code == 1 and "(--strict-xfail: the run fails)" in out


@pytest.mark.parametrize(
    "text, problem",
    [
        ("seed-2-2-2\n", ":1: reason: missing"),
        ("seed-2-2-2   #   \n", ":1: reason: missing"),
        ("# c\n\nseed/grad  # typo\n", ":3: pattern: unknown quantity 'grad'"),
        ("a/grads/w/x  # too deep\n", ":1: pattern: 'a/grads/w/x' is not CASE"),
        ("Seed  # upper case\n", ":1: pattern: case 'Seed'"),
        ("a  # one\na  # two\n", ":2: pattern: 'a' is already on line 1"),
    ],
)
def test_a_bad_file_is_one_line_and_exit_2_before_any_work(tmp_path, capsys, text, problem):
    path = xfails(tmp_path, text)
    with pytest.raises(XfailsError, match=problem.replace("*", r"\*").replace("(", r"\(")):
        read_xfails(path)
    code = main(["run", str(SEED), "--no-report", "--xfails", str(path)])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and problem in err and str(path) in err


def test_a_missing_file_is_named(tmp_path, capsys):
    code = main(["verify", str(tmp_path / "r.json"), "--xfails", str(tmp_path / "nope.txt")])
    _, err = capsys.readouterr()
    assert code == 2 and err.strip().startswith(f"refbp: error: {tmp_path / 'nope.txt'}: cannot be read")


def test_bad_input_and_crashes_read_with_expectations(tmp_path):
    rows = [
        Check(
            quantity="grads",
            tensor="w",
            reference="torch-autograd",
            max_abs_err=1.0,
            max_rel_err=1.0,
            worst_index=[],
            atol=0,
            rtol=0,
            passed=False,
        )
    ]
    run = SuiteRun(
        verdicts=[
            CaseVerdict(
                case="bad", implementation="i", passed=False, errors=["bad.json: id: wrong"], error_kind="input"
            ),
            CaseVerdict(
                case="crash",
                implementation="i",
                passed=False,
                errors=["crash.json: could not be checked: boom"],
                error_kind="crash",
            ),
            CaseVerdict(
                case="partly",
                implementation="i",
                passed=False,
                checks=rows
                + [
                    Check(
                        quantity="loss",
                        tensor="loss",
                        reference="torch-autograd",
                        max_abs_err=0,
                        max_rel_err=0,
                        worst_index=[],
                        atol=0,
                        rtol=0,
                        passed=True,
                    )
                ],
            ),
        ]
    )
    entries = read_xfails(
        xfails(tmp_path, "bad  # never\ncrash  # known\npartly/grads/w  # known\npartly/loss  # was wrong\n")
    )
    expected = with_expectations(run, entries)
    assert "bad" not in expected.marks and expected.exit_code() == 2  # bad input is never expected
    assert expected.marks["crash"].mark == XFAIL and expected.marks["partly"].mark == XFAIL
    assert expected.marks["partly"].parts == {"gradient w": (XFAIL, ["known"]), "forward": (XPASS, ["was wrong"])}
    assert [(case, e.pattern) for case, e in expected.xpasses] == [("partly", "partly/loss")]
    assert expected.failed == []
