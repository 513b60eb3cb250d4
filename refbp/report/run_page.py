"""The page of one run (templates/run.html), for the report.html of `run`, `verify` and `check`
and for the service's /runs/{id}: the verdict first, then the failing cases with their failing
rows (both values in full, and their difference), the pictures, the cases table (each case a
link to its section), and one section per case (failed ones open, the others collapsed).

It lays out the frames of refbp.report.frames; it computes nothing and reloads nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .frames import failing_rows, status_of
from .page import TEMPLATES, Page
from .table import Table, table_of

CASE_TABLE_COLUMNS = [
    "case",
    "status",
    "network",
    "dtype",
    "checks",
    "failed",
    "inconclusive",
    "worst_rel_torch",
    "worst_rel_fd",
    "worst_rel_expected",
    "seconds",
]
FAILING_COLUMNS = [
    "quantity",
    "tensor",
    "reference",
    "worst_index",
    "actual",
    "reference_value",
    "difference",
    "max_abs_err",
    "max_rel_err",
    "atol",
    "rtol",
    "note",
]
ROW_COLUMNS = [
    "quantity",
    "tensor",
    "reference",
    "state",
    "max_abs_err",
    "max_rel_err",
    "worst_index",
    "atol",
    "rtol",
    "method",
    "checked",
    "inconclusive",
    "convention",
    "note",
]
# An inconclusive case's rows that no reference could judge to the accuracy needed.
INCONCLUSIVE_COLUMNS = ["quantity", "tensor", "reference", "method", "checked", "inconclusive", "convention", "note"]
PRECISE = ("actual", "reference value", "difference")
# Shorter headings, so that a failing row with its full-precision values fits a 1400 px screen.
SHORT = {
    "worst_index": "entry",
    "reference_value": "reference value",
    "max_abs_err": "abs err",
    "max_rel_err": "rel err",
}


@dataclass
class CaseSection:
    id: str
    status: str
    network: str
    dtype: str
    errors: list[str]
    failing: Table | None  # the failed rows with both values (failing cases only)
    rows: Table | None  # every row of the case
    images: list[tuple[str, str]] = field(default_factory=list)
    # Failing cases: which classic bug each failed tensor looks like (refbp.diagnosis), one line
    # each, and where the answer first departs from the reference (when the result says).
    diagnoses: list[str] = field(default_factory=list)
    first_departure: str = ""
    # Inconclusive cases: the rows no reference could judge to the accuracy needed.
    undecided: Table | None = None
    # The entries not plainly passing (not judged by some reference, or judged loosely), shown
    # on demand: the page's copy of entries.csv for this case.
    entries: Table | None = None
    entry_count: int = 0

    @property
    def anchor(self) -> str:
        return f"case-{self.id}"

    @property
    def failed(self) -> bool:
        return self.status not in ("pass", "partial", "not supported", "inconclusive")

    @property
    def inconclusive(self) -> bool:
        return self.status == "inconclusive"


def headline(summary: pd.DataFrame, seconds: float, interrupted: str = "") -> tuple[str, str]:
    """(status "pass"/"fail"/"inconclusive", the verdict in one line) from the cases' statuses:
    inconclusive when no case failed but some were inconclusive (never a pass). `interrupted`:
    the note of a run that Ctrl-C ended; its verdict says so first, and it never passes."""
    counts = summary["status"].value_counts()
    partial = int(counts.get("partial", 0))  # passed on what it gives, the rest not provided
    passed, total = int(counts.get("pass", 0)) + partial, len(summary)
    inconclusive, unsupported = int(counts.get("inconclusive", 0)), int(counts.get("not supported", 0))
    failed = total - passed - inconclusive - int(counts.get("bad input", 0)) - unsupported
    judged = total and passed + inconclusive == total - unsupported
    status = "fail" if not judged else "inconclusive" if inconclusive else "pass"
    parts = [f"{passed}/{total} cases passed" + (f" ({partial} partial)" if partial else ""), f"{failed} failed"]
    if inconclusive:
        parts.append(f"{inconclusive} inconclusive")
    parts.append(f"{int(counts.get('bad input', 0))} bad input")
    if unsupported:
        parts.append(f"{unsupported} not supported")
    if interrupted:
        return "fail", f"{interrupted_headline(interrupted)}; {', '.join(parts)} ({seconds:.1f} s)"
    return status, f"{status.upper()}: {', '.join(parts)} ({seconds:.1f} s)"


def interrupted_headline(note: str) -> str:
    """`INTERRUPTED (Ctrl-C) after K of N cases: ...` from the run's note `interrupted (Ctrl-C) after ...`."""
    return (
        "INTERRUPTED " + note.removeprefix("interrupted").strip()
        if note.startswith("interrupted")
        else f"INTERRUPTED: {note}"
    )


def case_sections(
    details: pd.DataFrame, summary: pd.DataFrame, case_images: dict, entries: pd.DataFrame | None = None
) -> list[CaseSection]:
    failing = failing_rows(details)
    sections = []
    case: Any  # a row of the summary frame
    for case in summary.itertuples(index=False):
        listed = entries[entries["case"] == case.case].drop(columns=["case"]) if entries is not None else None
        rows = details[(details["case"] == case.case) & (details["quantity"] != "error")]
        errors = list(details.loc[(details["case"] == case.case) & (details["quantity"] == "error"), "note"])
        mine = failing[failing["case"] == case.case]
        undecided = rows[rows["state"] == "inconclusive"] if "state" in rows else rows.iloc[0:0]
        sections.append(
            CaseSection(
                case.case,
                case.status,
                case.network or "",
                case.dtype or "",
                errors,
                table_of(_without_empty_notes(mine[FAILING_COLUMNS]).rename(columns=SHORT), precise=PRECISE, shown=10)
                if len(mine)
                else None,
                table_of(rows.reindex(columns=ROW_COLUMNS), state_column="state") if len(rows) else None,
                images=case_images.get(case.case, []),
                diagnoses=diagnosis_lines(mine),
                first_departure=case.first_departure if isinstance(case.first_departure, str) else "",
                undecided=table_of(undecided.reindex(columns=INCONCLUSIVE_COLUMNS), shown=10)
                if len(undecided)
                else None,
                entries=table_of(listed, shown=10) if listed is not None and len(listed) else None,
                entry_count=0 if listed is None else len(listed),
            )
        )
    return sections


def diagnosis_lines(failing: pd.DataFrame) -> list[str]:
    """`tensor: what it looks like` once per failed tensor and diagnosis, in the rows' order."""
    lines: list[str] = []
    row: Any  # a row of the frame
    for row in failing.itertuples(index=False):
        if isinstance(row.diagnosis, str) and row.diagnosis:
            line = f"{row.tensor}: {row.diagnosis_note or row.diagnosis}"
            if line not in lines:
                lines.append(line)
    return lines


def _without_empty_notes(frame: pd.DataFrame) -> pd.DataFrame:
    return frame if frame["note"].astype(str).str.strip().any() else frame.drop(columns=["note"])


def run_html(
    page: Page,
    details: pd.DataFrame,
    summary: pd.DataFrame,
    pictures: list[tuple[str, str]],
    case_images: dict | None = None,
    seconds: float = 0.0,
    entries: pd.DataFrame | None = None,
    interrupted: str = "",
) -> str:
    """The run's page. `pictures`: (src, caption) of the run; `case_images`: {case: [(src, caption)]};
    `entries`: entries.csv's rows, each case's shown in its section on demand; `interrupted`: the
    note of a run that Ctrl-C ended (its headline says so)."""
    status, verdict = headline(summary, seconds, interrupted)
    sections = case_sections(details, summary, case_images or {}, entries)
    cases = table_of(summary[CASE_TABLE_COLUMNS], links={"case": "#case-{}"}, shown=len(summary))
    cases.failed = [s.failed for s in sections]
    cases.inconclusive = [s.inconclusive for s in sections]
    return TEMPLATES.get_template("run.html").render(
        page=page,
        status=status,
        verdict=verdict,
        failing=[s for s in sections if s.failed],
        inconclusive=[s for s in sections if s.inconclusive],
        cases=cases,
        sections=sections,
        pictures=pictures,
        environment=json.dumps(page.environment, indent=2),
    )


__all__ = ["CaseSection", "headline", "run_html", "status_of"]
