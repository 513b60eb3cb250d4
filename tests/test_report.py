"""The report layer: one page writer (Markdown and Styler/jinja2 HTML), the environment from
package metadata (no torch imported), seeds taken from the verdicts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pandas as pd

from refbp.report.page import Page, Section, html, markdown, markdown_table
from refbp.report.write import run_environment

REPO = Path(__file__).resolve().parents[1]


def test_failed_rows_and_only_those_are_highlighted():
    frame = pd.DataFrame({"case": ["a", "b", "c"], "passed": [True, False, True], "err": [1e-12, 0.5, float("nan")]})
    page = Page("title", ["headline"], [Section("Cases", table=frame, fail_column="passed")], {"x": 1}, status="fail")
    text = html(page)
    body_rows = text.split("</tr>")[1:4]  # the header row first
    assert ["fail" in row for row in body_rows] == [False, True, False]
    assert "<td class=\"data row1 col2 fail\" >0.5</td>" in text and "1e-12" in text
    assert '<p class="fail">headline</p>' in text


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
    verdicts = [SimpleNamespace(case="gen", dtype="float64", seeds={"params.init": 3, "inputs.random": 4}),
                SimpleNamespace(case="explicit", dtype="float32", seeds={})]
    run = SimpleNamespace(verdicts=verdicts, oracles=("torch",), implementation="refbp", started="now", seconds=1.0)
    env = run_environment(run, {"device": "cuda"})
    assert env["seeds"] == {"gen": {"params.init": 3, "inputs.random": 4}}
    assert env["dtypes"] == ["float32", "float64"] and env["device"] == "cuda"
    assert env["torch"] and env["numpy"] and env["pandas"]  # versions from the packages' metadata


def test_the_report_layer_never_imports_torch():
    code = ("import sys, refbp.report, refbp.report.bench, refbp.report.environment as e; e.environment(); "
            "assert 'torch' not in sys.modules, 'torch imported'")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_long_tables_are_written_whole():
    """pandas Styler trims a table past `styler.render.max_elements` cells; a report must not."""
    from refbp.report.page import html_table

    frame = pd.DataFrame({"a": range(40), "b": range(40)})
    with pd.option_context("styler.render.max_elements", 10):
        text = html_table(frame)
    assert text.count("<tr>") == 41 and ">39<" in text
