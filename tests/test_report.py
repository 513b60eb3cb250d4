"""The report layer: one set of templates (generic pages and the run page), tables with every
digit where it matters, frames of a stored run equal to the run's own, the environment from
package metadata (no torch imported), seeds taken from the verdicts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from refbp.check.verdict import CaseVerdict, Check
from refbp.report.frames import (
    cases_frame,
    details_frame,
    error_over_tolerance,
    failing_rows,
    stored_frames,
    summary_of,
)
from refbp.report.page import Page, Section, html, markdown, markdown_table
from refbp.report.run_page import run_html
from refbp.report.table import SHOWN_ROWS, table_of
from refbp.report.write import run_environment
from refbp.store import RunRecord, open_store, record_run, run_checks

REPO = Path(__file__).resolve().parents[1]


def test_failed_rows_and_only_those_are_highlighted():
    frame = pd.DataFrame({"case": ["a", "b", "c"], "passed": [True, False, True], "err": [1e-12, 0.5, float("nan")]})
    page = Page("title", ["headline"], [Section("Cases", table=frame, fail_column="passed")], {"x": 1}, status="fail")
    text = html(page)
    body_rows = text.split("<tbody>")[1].split("</tr>")[:3]
    assert ['class="fail"' in row for row in body_rows] == [False, True, False]
    assert 'data-sort="0.5">0.5</td>' in text and "1e-12" in text
    assert '<p class="verdict fail">headline</p>' in text


def test_text_is_escaped_in_html_and_markdown():
    frame = pd.DataFrame({"note": ["<b>x</b> | y"]})
    page = Page("<t>", ["a & b"], [Section("S", text="p1\n\np2", table=frame)], {"k": "<v>"})
    text = html(page)
    assert "<b>x</b>" not in text and "&lt;b&gt;x&lt;/b&gt;" in text
    assert "<title>&lt;t&gt;</title>" in text and "a &amp; b" in text and "<p>p1</p>" in text
    assert markdown_table(frame).splitlines()[-1] == "| <b>x</b> \\| y |"
    assert markdown(page).startswith("# <t>\n\na & b\n\n## S\n\np1\n\np2\n\n| note |")


def test_sections_left_out_of_markdown_stay_in_html():
    page = Page("t", [], [Section("All rows", table=pd.DataFrame({"a": [1]}), in_markdown=False)], {})
    assert "All rows" in html(page) and "All rows" not in markdown(page)


def test_run_environment_takes_seeds_from_the_verdicts():
    verdicts = [
        CaseVerdict(
            case="gen",
            implementation="refbp",
            passed=True,
            dtype="float64",
            seeds={"params.init": 3, "inputs.random": 4},
        ),
        CaseVerdict(case="explicit", implementation="refbp", passed=True, dtype="float32"),
    ]
    run = SimpleNamespace(verdicts=verdicts, oracles=("torch",), implementation="refbp", started="now", seconds=1.0)
    env = run_environment(run, {"device": "cuda"})
    assert env["seeds"] == {"gen": {"params.init": 3, "inputs.random": 4}}
    assert env["dtypes"] == ["float32", "float64"] and env["device"] == "cuda"
    assert env["torch"] and env["numpy"] and env["pandas"]  # versions from the packages' metadata


def test_the_report_layer_never_imports_torch():
    code = (
        "import sys, refbp.report, refbp.report.bench, refbp.report.environment as e; e.environment(); "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_long_tables_are_written_whole_and_collapsed():
    frame = pd.DataFrame({"a": range(40), "b": range(40)})
    text = html(Page("t", [], [Section("S", table=frame)], {}))
    assert text.count("<tr") == 41 and ">39<" in text
    assert text.count(" hidden>") == 40 - SHOWN_ROWS and "show all 40 rows" in text


def test_precise_columns_show_every_digit():
    frame = pd.DataFrame({"actual": [0.29837513474231137], "other": [0.29837513474231137]})
    table = table_of(frame, precise=("actual",))
    assert [c.text for c in table.rows[0]] == ["0.29837513474231137", "0.298"]


def _run(verdicts):
    return SimpleNamespace(
        verdicts=verdicts,
        started="now",
        seconds=1.5,
        oracles=("torch",),
        implementation="x",
        failed=[v for v in verdicts if not v.passed],
        bad_input=[],
        exit_code=lambda: 0 if all(v.passed for v in verdicts) else 1,
    )


def _verdict(case, passed, actual=1.0, reference=1.0):
    check = Check(
        quantity="grads",
        tensor="layers.0.weight",
        reference="torch-autograd",
        max_abs_err=abs(actual - reference),
        max_rel_err=abs(actual - reference) / abs(reference),
        worst_index=[1, 0],
        atol=1e-10,
        rtol=1e-7,
        passed=passed,
        actual=actual,
        expected_value=reference,
        checked=4,
    )
    return CaseVerdict(
        case=case, implementation="x", passed=passed, checks=[check], network="mlp 2-2-2", dtype="float64"
    )


def test_the_run_page_opens_with_the_verdict_then_the_failing_case_in_full_precision():
    run = _run([_verdict("good", True), _verdict("bad", False, 0.29837513474231137, 0.29837513474231125)])
    details = details_frame(run)
    summary = summary_of(details, cases_frame(run))
    text = run_html(Page("t", ["about"], [], {}), details, summary, [("errors.png", "errors")], seconds=1.5)
    assert text.index('id="verdict"') < text.index('id="failing"') < text.index('id="cases"')
    assert "FAIL: 1/2 cases passed, 1 failed, 0 bad input (1.5 s)" in text
    failing = text[text.index('id="failing"') : text.index('id="cases"')]
    shown = [">0.29837513474231137<", ">0.29837513474231125<", ">1.1102230246251565e-16<"]  # the cells' text
    assert all(text in failing for text in shown)
    assert "good" not in failing
    assert 'href="#case-bad"' in text and 'id="case-bad" open' in text and 'id="case-good">' in text


def test_a_stored_run_gives_the_frames_of_the_run_itself(tmp_path):
    run = _run([_verdict("good", True), _verdict("bad", False, 2.0, 1.0)])
    run.verdicts.append(
        CaseVerdict(case="broken", implementation="x", passed=False, errors=["f: x: bad"], error_kind="input")
    )
    store = open_store(f"sqlite:///{tmp_path / 's.sqlite'}")
    run_id = record_run(store, run, RunRecord("verify"))
    details, summary = stored_frames(run_checks(store, run_id))
    mine = summary_of(details_frame(run), cases_frame(run))
    columns = ["case", "passed", "status", "checks", "failed", "worst_rel_torch"]
    pd.testing.assert_frame_equal(summary[columns].reset_index(drop=True), mine[columns], check_dtype=False)
    assert failing_rows(details)[["actual", "reference_value"]].values.tolist() == [[2.0, 1.0]]


def test_error_over_tolerance_marks_what_fails():
    details = details_frame(_run([_verdict("good", True, 1.0, 1.0), _verdict("bad", False, 2.0, 1.0)]))
    ratio = error_over_tolerance(details).tolist()
    assert ratio[0] == 0.0 and ratio[1] == pytest.approx(1.0 / (1e-10 + 1e-7))
