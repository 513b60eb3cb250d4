"""A DataFrame as the table model the templates draw (templates/macros.html): each cell's text,
its sort key, its class and its link. Numbers show 3 significant digits, except the columns
named `precise`, which show every digit a float64 holds (the shortest text that reads back
to the same number), so that two values that differ are never printed alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

# Past this many rows a table is collapsed (its first rows shown, the rest behind "show all").
SHOWN_ROWS = 15
# Columns of free text: wrapped in the page; every other cell stays on one line.
PROSE = ("note", "errors", "title", "detail")


@dataclass(frozen=True)
class Choice:
    """A checkbox in a cell: part of the form `form` (by id), sent as `name=value`."""

    form: str
    name: str
    value: str


@dataclass
class Cell:
    text: str
    sort: str = ""  # the numeric sort key ("" for text: sorted by its text)
    href: str = ""
    choice: Choice | None = None


@dataclass
class Table:
    columns: list[str]
    rows: list[list[Cell]] = field(default_factory=list)
    failed: list[bool] = field(default_factory=list)  # per row: highlighted as failed
    inconclusive: list[bool] = field(default_factory=list)  # per row: marked inconclusive (neither pass nor fail)
    numeric: list[bool] = field(default_factory=list)  # per column: right-aligned, sorted as numbers
    prose: list[bool] = field(default_factory=list)  # per column: free text, wrapped (others never break)
    shown: int = SHOWN_ROWS  # rows shown before "show all"


def text_of(value, precise: bool = False) -> str:
    """A float in 3 significant digits (every digit when `precise`), a missing number as nothing,
    a boolean as pass/FAIL-free text (True/False), anything else as text."""
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return repr(value) if precise else f"{value:.3g}"
    return str(value)


def _sort_key(value) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    return repr(float(value))


def table_of(
    frame: pd.DataFrame,
    fail_column: str | None = None,
    precise=(),
    links: dict | None = None,
    shown: int = SHOWN_ROWS,
    choices: dict | None = None,
    state_column: str | None = None,
) -> Table:
    """The frame's rows as cells; `links` maps a column to a format string of its cells' href
    ("#case-{}"); `choices` maps a column to the id of a form: its cells are checkboxes of that
    form, each sending `column=value`; rows whose `fail_column` is false are marked failed, or
    with `state_column` (pass / fail / inconclusive) rows in the state fail are marked failed and
    those in the state inconclusive inconclusive."""
    frame = frame.reset_index(drop=True)
    links, choices = links or {}, choices or {}
    table = Table([str(c) for c in frame.columns], shown=shown)
    table.numeric = [
        pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c]) for c in frame.columns
    ]
    table.prose = [c in PROSE for c in frame.columns]
    for record in frame.itertuples(index=False):
        cells = []
        for column, value in zip(frame.columns, record):
            value = value.item() if hasattr(value, "item") else value
            href = links[column].format(value) if column in links and value not in ("", None) else ""
            if column in choices:
                cells.append(Cell("", "", "", Choice(choices[column], str(column), text_of(value))))
                continue
            cells.append(Cell(text_of(value, column in precise), _sort_key(value), href))
        table.rows.append(cells)
    if state_column in frame.columns:
        table.failed = [v == "fail" for v in frame[state_column]]
        table.inconclusive = [v == "inconclusive" for v in frame[state_column]]
    elif fail_column in frame.columns:
        table.failed = [not bool(v) for v in frame[fail_column]]
    else:
        table.failed = [False] * len(frame)
    table.inconclusive = table.inconclusive or [False] * len(frame)
    return table
