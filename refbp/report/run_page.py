"""The page of one run (templates/run.html), for the report.html of `run`, `verify` and `check`
and for the service's /runs/{id}: the verdict first, then the failing cases with their failing
rows (both values in full, and their difference), the pictures, the cases table (each case a
link to its section), and one section per case (failed ones open, the others collapsed).

It lays out the frames of refbp.report.frames; it computes nothing and reloads nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pandas as pd

from .frames import failing_rows, status_of
from .page import TEMPLATES, Page
from .table import Table, table_of

CASE_TABLE_COLUMNS = ["case", "status", "network", "dtype", "checks", "failed", "worst_rel_torch", "worst_rel_fd",
                      "worst_rel_expected", "seconds"]
FAILING_COLUMNS = ["quantity", "tensor", "reference", "worst_index", "actual", "reference_value", "difference",
                   "max_abs_err", "max_rel_err", "atol", "rtol", "note"]
ROW_COLUMNS = ["quantity", "tensor", "reference", "passed", "max_abs_err", "max_rel_err", "worst_index", "atol",
               "rtol", "method", "checked", "note"]
PRECISE = ("actual", "reference value", "difference")
# Shorter headings, so that a failing row with its full-precision values fits a 1400 px screen.
SHORT = {"worst_index": "entry", "reference_value": "reference value", "max_abs_err": "abs err",
         "max_rel_err": "rel err"}


@dataclass
class CaseSection:
    id: str
    status: str
    network: str
    dtype: str
    errors: list[str]
    failing: Table | None        # the failed rows with both values (failing cases only)
    rows: Table | None           # every row of the case
    images: list[tuple[str, str]] = field(default_factory=list)
    # Failing cases: which classic bug each failed tensor looks like (refbp.diagnosis), one line
    # each, and where the answer first departs from the reference (when the result says).
    diagnoses: list[str] = field(default_factory=list)
    first_departure: str = ""

    @property
    def anchor(self) -> str:
        return f"case-{self.id}"

    @property
    def failed(self) -> bool:
        return self.status not in ("pass", "not supported")


def headline(summary: pd.DataFrame, seconds: float) -> tuple[str, str]:
    """(status "pass"/"fail", the verdict in one line) from the cases' statuses."""
    counts = summary["status"].value_counts()
    passed, total = int(counts.get("pass", 0)), len(summary)
    failed = total - passed - int(counts.get("bad input", 0)) - int(counts.get("not supported", 0))
    status = "pass" if total and passed == total - int(counts.get("not supported", 0)) else "fail"
    parts = [f"{passed}/{total} cases passed", f"{failed} failed", f"{int(counts.get('bad input', 0))} bad input"]
    if counts.get("not supported", 0):
        parts.append(f"{int(counts['not supported'])} not supported")
    return status, f"{'PASS' if status == 'pass' else 'FAIL'}: {', '.join(parts)} ({seconds:.1f} s)"


def case_sections(details: pd.DataFrame, summary: pd.DataFrame, case_images: dict) -> list[CaseSection]:
    failing = failing_rows(details)
    sections = []
    for case in summary.itertuples(index=False):
        rows = details[(details["case"] == case.case) & (details["quantity"] != "error")]
        errors = [e for e in details.loc[(details["case"] == case.case) & (details["quantity"] == "error"), "note"]]
        mine = failing[failing["case"] == case.case]
        sections.append(CaseSection(
            case.case, case.status, case.network or "", case.dtype or "", errors,
            table_of(_without_empty_notes(mine[FAILING_COLUMNS]).rename(columns=SHORT), precise=PRECISE,
                     shown=10) if len(mine) else None,
            table_of(rows[ROW_COLUMNS], fail_column="passed") if len(rows) else None,
            images=case_images.get(case.case, []), diagnoses=diagnosis_lines(mine),
            first_departure=case.first_departure if isinstance(case.first_departure, str) else ""))
    return sections


def diagnosis_lines(failing: pd.DataFrame) -> list[str]:
    """`tensor: what it looks like` once per failed tensor and diagnosis, in the rows' order."""
    lines = []
    for row in failing.itertuples(index=False):
        if isinstance(row.diagnosis, str) and row.diagnosis:
            line = f"{row.tensor}: {row.diagnosis_note or row.diagnosis}"
            if line not in lines:
                lines.append(line)
    return lines


def _without_empty_notes(frame: pd.DataFrame) -> pd.DataFrame:
    return frame if frame["note"].astype(str).str.strip().any() else frame.drop(columns=["note"])


def run_html(page: Page, details: pd.DataFrame, summary: pd.DataFrame, pictures: list[tuple[str, str]],
             case_images: dict | None = None, seconds: float = 0.0) -> str:
    """The run's page. `pictures`: (src, caption) of the run; `case_images`: {case: [(src, caption)]}."""
    status, verdict = headline(summary, seconds)
    sections = case_sections(details, summary, case_images or {})
    cases = table_of(summary[CASE_TABLE_COLUMNS], links={"case": "#case-{}"}, shown=len(summary))
    cases.failed = [s.failed for s in sections]
    return TEMPLATES.get_template("run.html").render(
        page=page, status=status, verdict=verdict, failing=[s for s in sections if s.failed], cases=cases,
        sections=sections, pictures=pictures, environment=json.dumps(page.environment, indent=2))


__all__ = ["CaseSection", "headline", "run_html", "status_of"]
