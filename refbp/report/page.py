"""One report page, written twice: `summary.md` (Markdown) and `report.html` (pandas Styler
tables in the one jinja2 template, templates/report.html). Runs and benchmarks both write
their pages here; the page only lays out what it is given.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import pandas as pd

TEMPLATES = jinja2.Environment(loader=jinja2.PackageLoader("refbp.report", "templates"), autoescape=True,
                               trim_blocks=True, lstrip_blocks=True)


@dataclass
class Section:
    """A heading, then paragraphs (`text`, split at blank lines), a table, images (file, caption)."""

    heading: str
    text: str = ""
    table: pd.DataFrame | None = None
    images: list[tuple[str, str]] = field(default_factory=list)
    # Rows whose value in this column is false are highlighted (failed checks).
    fail_column: str | None = None
    # False: only in report.html (tables too long for a summary).
    in_markdown: bool = True


@dataclass
class Page:
    title: str
    lines: list[str]  # paragraphs under the title; the first gets `status` ("pass"/"fail") as its class
    sections: list[Section]
    environment: dict
    status: str | None = None


def write_page(out: Path, page: Page) -> None:
    (out / "summary.md").write_text(markdown(page))
    (out / "report.html").write_text(html(page))


def cell(value) -> str:
    """A float in 3 significant digits, a missing number as nothing, anything else as text."""
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.3g}"
    return str(value)


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub table without the optional `tabulate` dependency of DataFrame.to_markdown."""
    def text(value):
        return cell(value).replace("|", "\\|").replace("\n", " ")

    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(text(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def markdown(page: Page) -> str:
    lines = [f"# {page.title}", ""]
    for line in page.lines:
        lines += [line, ""]
    for section in page.sections:
        if not section.in_markdown:
            continue
        lines += [f"## {section.heading}", ""]
        if section.text:
            lines += [section.text, ""]
        if section.table is not None:
            lines += [markdown_table(section.table), ""]
        lines += [f"![{caption}]({file})" for file, caption in section.images]
        if section.images:
            lines.append("")
    return "\n".join(lines)


def html_table(frame: pd.DataFrame, fail_column: str | None = None, uuid: str = "") -> str:
    """The frame as an HTML table by pandas Styler; with `fail_column`, the cells of failed rows
    carry the class `fail` (without it, the table is written bare: no class on every cell)."""
    frame = frame.reset_index(drop=True)
    styler = frame.style.hide(axis="index").format(cell, escape="html")
    styler.set_uuid(uuid)
    styler.cell_ids = False
    if fail_column in frame.columns:
        failed = ~frame[fail_column].astype(bool)
        styler.set_td_classes(pd.DataFrame([["fail" if bad else ""] * frame.shape[1] for bad in failed],
                                           index=frame.index, columns=frame.columns))
    # Styler trims tables beyond `max_elements` cells; a report shows every row.
    with pd.option_context("styler.render.max_elements", max(frame.size, 1)):
        return styler.to_html(exclude_styles=fail_column not in frame.columns)


def html(page: Page) -> str:
    sections = [{"heading": s.heading, "paragraphs": [p for p in s.text.split("\n\n") if p],
                 "table": None if s.table is None else html_table(s.table, s.fail_column, f"t{i}"),
                 "images": s.images} for i, s in enumerate(page.sections)]
    return TEMPLATES.get_template("report.html").render(
        page=page, sections=sections, environment=json.dumps(page.environment, indent=2))
