"""The score line: cases passed, and per category the parts passed (a gradient part per tensor),
in the table, the report's summary.md and environment.json."""

from __future__ import annotations

import json

from refbp.cases import SUITE_DIR
from refbp.check.parts import verdict_parts
from refbp.check.suite import SuiteRun
from refbp.check.verdict import CaseVerdict, Check
from refbp.cli import main
from refbp.report.score import percent, score_line, score_of


def row(quantity, tensor, passed=True, inconclusive=0):
    return Check(
        quantity=quantity,
        tensor=tensor,
        reference="torch-autograd",
        max_abs_err=0.0,
        max_rel_err=0.0,
        worst_index=[],
        atol=0.0,
        rtol=0.0,
        passed=passed,
        inconclusive=inconclusive,
    )


def test_parts_are_forward_each_gradient_and_training():
    verdict = CaseVerdict(
        case="c",
        implementation="i",
        passed=False,
        checks=[
            row("loss", "loss"),
            row("outputs", "outputs"),
            row("grads", "w"),
            row("grads", "b", passed=False),
            row("params_after", "w"),
        ],
        not_provided=["loss_after", "input_grads", "grads.v"],
    )
    parts = {p.name: p.state for p in verdict_parts(verdict)}
    assert parts == {
        "forward": "pass",
        "gradient w": "pass",
        "gradient b": "fail",
        "gradient v": "missing",
        "training": "missing",
    }


def test_score_counts_cases_and_parts():
    good = CaseVerdict(
        case="a", implementation="i", passed=True, checks=[row("loss", "loss"), row("grads", "w"), row("grads", "b")]
    )
    half = CaseVerdict(
        case="b",
        implementation="i",
        passed=False,
        checks=[row("loss", "loss"), row("grads", "w", False), row("grads", "b"), row("params_after", "w", False)],
    )
    unsure = CaseVerdict(
        case="c", implementation="i", passed=True, checks=[row("loss", "loss"), row("grads", "w", inconclusive=1)]
    )
    declined = CaseVerdict(case="d", implementation="i", passed=False, errors=["declined"], error_kind="unsupported")
    run = SuiteRun(verdicts=[good, half, unsure, declined])
    assert score_of(run) == {
        "cases": {"passed": 1, "total": 3},
        "forward": {"passed": 3, "total": 3},
        "gradients": {"passed": 3, "total": 5},
        "training": {"passed": 0, "total": 1},
    }
    assert score_line(run) == "score: 1/3 cases (33 %): forward 100 %, gradients 60 %, training 0 %"


def test_a_part_declared_not_provided_counts_in_no_category():
    """A partial answer (the gradient of `v` and the training declared not provided) is scored on
    what it gives; under --require all those parts carry failed rows and count as failed."""
    partial = CaseVerdict(
        case="p",
        implementation="i",
        passed=True,
        checks=[row("loss", "loss"), row("grads", "w")],
        not_provided=["grads.v", "params_after", "loss_after"],
    )
    run = SuiteRun(verdicts=[partial])
    assert score_of(run) == {
        "cases": {"passed": 1, "total": 1},
        "forward": {"passed": 1, "total": 1},
        "gradients": {"passed": 1, "total": 1},
    }
    required = CaseVerdict(
        case="p",
        implementation="i",
        passed=False,
        checks=[row("loss", "loss"), row("grads", "w"), row("grads", "v", False)],
        not_provided=["grads.v"],
    )
    assert score_of(SuiteRun(verdicts=[required]))["gradients"] == {"passed": 1, "total": 2}


def test_percent_never_rounds_up_to_a_full_score():
    assert percent(999, 1000) == 99 and percent(41, 46) == 89 and percent(0, 0) == 0


def test_the_score_is_in_the_table_and_the_report(tmp_path, capsys):
    code = main(["run", str(SUITE_DIR / "seed" / "seed-2-2-2.json"), "--report-dir", str(tmp_path)])
    out = capsys.readouterr().out
    line = "score: 1/1 cases (100 %): forward 100 %, gradients 100 %, training 100 %"
    assert code == 0 and line in out
    (report,) = tmp_path.iterdir()
    assert line in (report / "summary.md").read_text()
    assert line in (report / "report.html").read_text()
    environment = json.loads((report / "environment.json").read_text())
    assert environment["score"]["gradients"] == {"passed": 5, "total": 5}


def test_the_score_is_kept_with_the_run_in_the_verdict_store(tmp_path, capsys):
    import os
    import sqlite3

    assert main(["run", str(SUITE_DIR / "seed" / "seed-2-2-2.json"), "--no-report"]) == 0
    capsys.readouterr()
    database = os.environ["REFBP_DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(database) as connection:
        (stored,) = connection.execute("SELECT environment FROM runs").fetchone()
    assert json.loads(stored)["score"]["cases"] == {"passed": 1, "total": 1}
