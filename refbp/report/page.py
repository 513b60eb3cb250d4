"""One set of templates for every page refbp writes or serves, and the generic page.

`Page` (a title, lines, sections of text, tables and images) is written twice: as
`summary.md` (Markdown) and as `report.html` (templates/sections.html). Benches, compare,
the service's run list and its API docs are such pages; a run's page is richer
(refbp.report.run_page, templates/run.html). Every HTML page extends templates/base.html,
which holds the style and the small script (sortable columns, collapsed long tables,
anchors that open their section) inline: a page needs nothing from the network.
The pages only lay out what they are given.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import pandas as pd

from .table import table_of, text_of

TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("refbp.report", "templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)


@dataclass(frozen=True)
class Form:
    """A GET form to `action` with one button; the checkboxes of its table's `columns` are its fields."""

    id: str
    action: str
    button: str
    columns: tuple[str, ...]


@dataclass
class Section:
    """A heading, then paragraphs (`text`, split at blank lines), a table, images (src, caption).

    An image's src is a file beside the page or a data: URI (the service's pages)."""

    heading: str
    text: str = ""
    table: pd.DataFrame | None = None
    images: list[tuple[str, str]] = field(default_factory=list)
    # Rows whose value in this column is false are highlighted (failed checks).
    fail_column: str | None = None
    # False: only in report.html (tables too long for a summary).
    in_markdown: bool = True
    # Column -> format string of the link of its cells ("/runs/{}").
    links: dict = field(default_factory=dict)
    # A form that sends what is ticked in the table (a GET to `action`), and the columns whose cells
    # are its checkboxes (the service's "compare the chosen runs").
    form: Form | None = None


@dataclass
class Page:
    title: str
    lines: list[str]  # paragraphs under the title; the first gets `status` ("pass"/"fail") as its class
    sections: list[Section]
    environment: dict
    status: str | None = None
    # Links above the title: (href, text) (the service's navigation; none in a written report).
    nav: list[tuple[str, str]] = field(default_factory=list)


def write_page(out: Path, page: Page) -> None:
    (out / "summary.md").write_text(markdown(page))
    (out / "report.html").write_text(html(page))


cell = text_of


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


def html(page: Page) -> str:
    sections = [
        {
            "heading": s.heading,
            "anchor": f"section-{i}",
            "paragraphs": [p for p in s.text.split("\n\n") if p],
            "table": None
            if s.table is None
            else table_of(s.table, s.fail_column, links=s.links, choices=_choices(s.form)),
            "form": s.form,
            "images": s.images,
        }
        for i, s in enumerate(page.sections)
    ]
    return TEMPLATES.get_template("sections.html").render(
        page=page, sections=sections, environment=json.dumps(page.environment, indent=2)
    )


def _choices(form: Form | None) -> dict:
    return {} if form is None else dict.fromkeys(form.columns, form.id)
