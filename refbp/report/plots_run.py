"""The pictures of a run's page, drawn from its details frame: the error distribution per
reference and dtype with the tolerance marked and the failed rows in red, and the case x
tensor heat-map of error over tolerance. Object-oriented matplotlib (no pyplot state), so
that the service may draw in several threads at once; `target` is a path or a binary file.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .frames import REFERENCE_COLUMNS, error_over_tolerance, row_states
from .plots import canvas

FLOOR = -18  # log10 of the smallest error drawn: exact agreement sits there
DTYPES = ("float64", "float32")


def error_plot(details: pd.DataFrame, target) -> bool:
    """One histogram of log10(max relative error) per reference (columns) and dtype (rows);
    dashed: the rtol each row was judged with; red: the failed rows, orange: the inconclusive ones.
    False when nothing to draw."""
    rows = details[details["reference"].isin(list(REFERENCE_COLUMNS))]
    if rows.empty:
        return False
    references = [r for r in REFERENCE_COLUMNS if (rows["reference"] == r).any()]
    dtypes = [d for d in DTYPES if (rows["dtype"] == d).any()] or [""]
    fig = canvas(3.6 * len(references) + 0.6, 2.4 * len(dtypes) + 0.6)
    axes = fig.subplots(len(dtypes), len(references), squeeze=False)
    bins = np.arange(FLOOR, 2.5, 1.0)
    for i, dtype in enumerate(dtypes):
        for j, reference in enumerate(references):
            ax = axes[i][j]
            group = rows[(rows["reference"] == reference) & ((rows["dtype"] == dtype) if dtype else True)]
            if group.empty:
                ax.set_axis_off()
                ax.text(
                    0.5,
                    0.5,
                    f"{reference}, {dtype}: no rows",
                    ha="center",
                    va="center",
                    fontsize=8,
                    transform=ax.transAxes,
                )
                continue
            errors = pd.to_numeric(group["max_rel_err"]).astype(float).fillna(np.inf).to_numpy()
            values = np.clip(np.log10(np.maximum(errors, 10.0**FLOOR)), FLOOR, 2.0)
            states = row_states(group).to_numpy()
            failed, undecided = states == "fail", states == "inconclusive"
            passed = ~(failed | undecided)
            kinds = [(passed, "tab:blue", "passed"), (failed, "tab:red", "failed")]
            if undecided.any():
                kinds.insert(1, (undecided, "tab:orange", "inconclusive"))
            ax.hist(
                [values[mask] for mask, _, _ in kinds],
                bins=bins,
                stacked=True,
                color=[c for _, c, _ in kinds],
                label=[f"{name} ({int(mask.sum())})" for mask, _, name in kinds],
            )
            for rtol in sorted(set(pd.to_numeric(group["rtol"]).dropna().astype(float))):
                if rtol > 0:
                    ax.axvline(math.log10(rtol), color="black", linestyle="--", linewidth=1)
            ax.set_title(f"{reference}, {dtype or 'dtype unknown'} ({len(group)} rows)", fontsize=9)
            ax.set_xlabel("log10 max relative error (dashed: rtol)", fontsize=8)
            ax.set_ylabel("rows", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.legend(fontsize=7)
    # Margins in inches, as tight_layout would find them for these small labels (it cost a
    # quarter of the picture's time, and every run draws it).
    width, height = fig.get_size_inches()
    fig.subplots_adjust(
        left=0.55 / width, right=1 - 0.15 / width, bottom=0.5 / height, top=1 - 0.3 / height, wspace=0.28, hspace=0.5
    )
    fig.savefig(target, dpi=90, format="png")
    return True


def tolerance_heatmap(details: pd.DataFrame, target) -> bool:
    """log10(error / tolerance) per case (rows) and tensor (columns), the worst over quantities
    and references; above 0 (red) is out of tolerance. False when nothing to draw."""
    rows = details[details["reference"].isin(list(REFERENCE_COLUMNS))].copy()
    if rows.empty:
        return False
    rows["ratio"] = error_over_tolerance(rows)
    with np.errstate(divide="ignore"):
        rows["log_ratio"] = np.clip(np.log10(rows["ratio"].astype(float)), -12, 4)
    grid = rows.pivot_table(index="case", columns="tensor", values="log_ratio", aggfunc="max", sort=False)
    cases = list(dict.fromkeys(rows["case"]))
    grid = grid.reindex(index=cases)
    grid = grid[sorted(grid.columns, key=_tensor_order)]
    fig = canvas(min(max(6.0, 3.0 + 0.3 * grid.shape[1]), 15), 2.4 + 0.16 * grid.shape[0])
    ax = fig.subplots()
    image = ax.imshow(
        np.ma.masked_invalid(grid.to_numpy(dtype=float)),
        aspect="auto",
        cmap="RdYlBu_r",
        vmin=-8,
        vmax=4,
        interpolation="nearest",
    )
    ax.set_xticks(range(grid.shape[1]), grid.columns, rotation=60, ha="right", fontsize=6)
    ax.set_yticks(range(grid.shape[0]), grid.index, fontsize=6)
    for (i, j), value in np.ndenumerate(grid.to_numpy(dtype=float)):
        if value > 0:
            ax.text(j, i, "x", ha="center", va="center", fontsize=6, color="black", fontweight="bold")
    fig.colorbar(image, ax=ax, label="log10(error / tolerance)", shrink=0.8)
    ax.set_title("error / tolerance per case and tensor (x: out of tolerance)", fontsize=9)
    fig.tight_layout()
    fig.savefig(target, dpi=90, format="png")
    return True


def _tensor_order(name: str):
    """outputs and loss first, then layers in order, then the rest by name."""
    first = {"outputs": 0, "loss": 1}
    return (first.get(name, 2), name)
