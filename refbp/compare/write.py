"""Writing a comparison: cases.csv, tensors.csv, summary.md, report.html (the one page writer of
runs and benches) and heatmap.png in a new folder `compare-<time>-<id>/` of the report directory."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from refbp.report.environment import environment
from refbp.report.page import Page, Section, write_page
from refbp.report.plots import canvas
from refbp.report.write import new_run_dir

from .columns import Column
from .table import case_table, heatmap_values, tensor_table, unique_labels


def write_comparison(columns: list[Column], report_dir="reports") -> Path:
    out = new_run_dir(report_dir, prefix="compare")
    cases, tensors = case_table(columns), tensor_table(columns)
    cases.to_csv(out / "cases.csv", index=False)
    tensors.to_csv(out / "tensors.csv", index=False)
    heatmap(columns, out / "heatmap.png")
    sources = [f"{label}: {column.source}" for label, column in zip(unique_labels(columns), columns)]
    page = Page(
        "refbp compare",
        sources,
        [
            Section(
                "Cases",
                table=cases,
                images=[
                    ("heatmap.png", "log10 of the worst relative error, case x implementation (x: the case failed)")
                ],
            ),
            Section("Every row side by side", table=tensors, in_markdown=False),
        ],
        environment(),
        status=None,
    )
    write_page(out, page)
    return out


def heatmap(columns: list[Column], target) -> Path:
    """log10 of each case's worst relative error (case x implementation); failed cells marked x,
    cases an implementation does not support n/s. `target`: a path or a binary file (drawn
    outside pyplot, so that threads may draw at once)."""
    values, marks = heatmap_values(columns)
    height = max(3.0, 0.22 * len(values) + 1.5)
    fig = canvas(2.0 + 1.6 * values.shape[1], height)
    ax = fig.subplots()
    image = ax.imshow(
        np.ma.masked_invalid(values.to_numpy(dtype=float)), aspect="auto", cmap="viridis", vmin=-17, vmax=1
    )
    for (row, col), mark in np.ndenumerate(marks.to_numpy()):
        if mark:
            ax.text(
                col,
                row,
                mark,
                ha="center",
                va="center",
                color="red" if mark == "x" else "dimgray",
                fontsize=9 if mark == "x" else 7,
                fontweight="bold",
            )
    ax.set_xticks(range(values.shape[1]), values.columns, rotation=20, ha="right", fontsize=8)
    ax.set_yticks(range(len(values)), values.index, fontsize=7)
    fig.colorbar(image, ax=ax, label="log10 worst relative error")
    ax.set_title("refbp compare (x: the case failed; ?: inconclusive; n/s: not supported)", fontsize=10)
    fig.tight_layout()
    fig.savefig(target, dpi=100, format="png")
    return target
