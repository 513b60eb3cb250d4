"""The student's summary of a grade, as plain text and as one self-contained HTML page.

A student sees here what Gradescope shows them: the tests the rubric makes visible (`visible`;
`after_due_date` and `after_published` ones are listed as "shown after the due date", hidden
ones not at all), each with its points and feedback.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path

from .gradescope import results_json, summary_output
from .points import Grade

SHOWN_LATER = ("after_due_date", "after_published")


def _shown(grade: Grade):
    return [t for t in grade.tests if t.visibility == "visible"]


def _later(grade: Grade) -> int:
    return sum(t.visibility in SHOWN_LATER for t in grade.tests)


def text_summary(grade: Grade) -> str:
    lines = [summary_output(grade), ""]
    for test in _shown(grade):
        mark = "ok  " if test.status == "passed" else "FAIL"
        lines.append(f"{mark} {test.score:g}/{test.max_score:g}  {test.name}")
        if test.status != "passed":
            lines += [f"       {line}" for line in test.output.splitlines()]
    if _later(grade):
        lines.append(f"({_later(grade)} more tests are shown after the due date)")
    return "\n".join(lines) + "\n"


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; }}
table {{ border-collapse: collapse; width: 100%; }} td, th {{ border-bottom: 1px solid #ddd; padding: .4rem; text-align: left; vertical-align: top; }}
.passed {{ color: #176317; }} .failed {{ color: #a11; }} pre {{ white-space: pre-wrap; margin: 0; }}
</style></head><body>
<h1>{title}</h1>
<pre>{summary}</pre>
<table><tr><th>test</th><th>points</th><th>feedback</th></tr>
{rows}
</table>
{later}
</body></html>
"""  # noqa: E501 (one CSS rule a line, as the page is served)


def html_summary(grade: Grade) -> str:
    rows = "\n".join(
        f'<tr class="{test.status}"><td>{escape(test.name)}</td><td>{test.score:g} / {test.max_score:g}</td>'
        f"<td><pre>{escape(test.output)}</pre></td></tr>"
        for test in _shown(grade)
    )
    later = f"<p>{_later(grade)} more tests are shown after the due date.</p>" if _later(grade) else ""
    return PAGE.format(title=escape(grade.title), summary=escape(summary_output(grade)), rows=rows, later=later)


def write_grade(grade: Grade, folder) -> Path:
    """results.json (Gradescope's), summary.txt and summary.html in `folder` (made when missing)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps(results_json(grade), indent=1) + "\n")
    (folder / "summary.txt").write_text(text_summary(grade))
    (folder / "summary.html").write_text(html_summary(grade))
    return folder / "results.json"
