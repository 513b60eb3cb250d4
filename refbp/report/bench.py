"""A benchmark's report folder `reports/bench-<name>-<id>/`: results.csv, environment.json, PNG
plots, and the page (summary.md, report.html) of refbp.report.page, as for a run.

The sections only regroup the bench's rows (one table per model, batch or backend) and its
goal lines; every number comes from the bench.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from .page import Page, Section, write_page
from .plots import plot_gflops, plot_speedup, plot_time_per_example, plot_time_vs_steps
from .write import new_run_dir


def _pivot_table(group: pd.DataFrame, index: str, values: str, scale: float = 1.0) -> pd.DataFrame:
    return (group.pivot(index=index, columns="backend", values=values) * scale).reset_index()


def batch_sections(frame: pd.DataFrame) -> list[Section]:
    sections = []
    for (model, dtype), group in frame[frame["mode"] == "batched"].groupby(["model", "dtype"], sort=False):
        sections.append(
            Section(
                f"{model} {dtype}: microseconds per example (batched)",
                table=_pivot_table(group, "batch", "seconds_per_example", 1e6),
            )
        )
        if group["speedup_over_serial"].notna().any():
            sections.append(
                Section(
                    f"{model} {dtype}: speed-up of the batched call over the serial loop",
                    table=_pivot_table(group, "batch", "speedup_over_serial"),
                )
            )
        sections.append(
            Section(f"{model} {dtype}: % of the backend's GEMM rate", table=_pivot_table(group, "batch", "pct_of_gemm"))
        )
    # Each batch size's rows are read against the GEMM timed in their own rounds: the median and range here.
    peaks = (
        frame.groupby(["backend", "device", "dtype"], sort=False)["gemm_peak_gflops"]
        .agg(median="median", min="min", max="max")
        .reset_index()
    )
    return sections + [Section("GEMM rate measured in this run (GFLOP/s, over the batch sizes' rounds)", table=peaks)]


def rnn_sections(frame: pd.DataFrame) -> list[Section]:
    sections = []
    for batch, group in frame.groupby("batch", sort=False):
        sections.append(
            Section(f"batch {batch}: milliseconds per forward+backward", table=_pivot_table(group, "T", "seconds", 1e3))
        )
        sections.append(
            Section(
                f"batch {batch}: microseconds per time step", table=_pivot_table(group, "T", "seconds_per_step", 1e6)
            )
        )
    return sections


def no_sections(frame: pd.DataFrame) -> list[Section]:
    """Every row in the one table "All rows"."""
    return []


# name -> (heading of the goal lines, the sections of the rows, the plots: (file name, caption, draw))
BENCHES = {
    "batch": (
        "Goals (this run)",
        batch_sections,
        [
            (
                "time_per_example.png",
                "time per example vs batch size, per backend (log-log; dashed: serial loop)",
                plot_time_per_example,
            ),
            ("speedup_over_serial.png", "speed-up of one batched call over a loop of batch-1 calls", plot_speedup),
            ("gflops.png", "GFLOP/s vs batch size; dotted lines: the GEMM rate of each backend's library", plot_gflops),
        ],
    ),
    "rnn": (
        "Goals and linearity in T (this run)",
        rnn_sections,
        [
            (
                "rnn_time_vs_T.png",
                "RNN forward+backward time vs sequence length T, per backend and batch",
                plot_time_vs_steps,
            ),
        ],
    ),
    "fd": ("Goals (this run)", no_sections, []),
    "check": ("Goals (this run)", no_sections, []),
    "service": ("Goals (this run)", no_sections, []),
    "jobs": ("Goals (this run)", no_sections, []),
}


def write_bench_report(name: str, frame: pd.DataFrame, goals: list[str], env: dict, report_dir) -> Path:
    """`<report_dir>/bench-<name>-<time>-<hex>/` with the rows, the environment, the plots and the page."""
    goal_heading, sections_of, plots = BENCHES[name]
    out = new_run_dir(report_dir, f"bench-{name}")
    frame.to_csv(out / "results.csv", index=False)
    (out / "environment.json").write_text(json.dumps(env, indent=2) + "\n")
    drawn = [(filename, caption) for filename, caption, draw in plots if draw(frame, out / filename)]
    sections = [Section(goal_heading, text="\n\n".join(goals) or "no goal's rows were timed"), *sections_of(frame)]
    if drawn:
        sections.append(Section("Plots", images=drawn))
    sections.append(Section("All rows", table=frame))
    about = (
        f"{env.get('processor', '')}; numpy {env['numpy']}, torch {env['torch']} ({env['torch_threads']} "
        f"threads), CUDA: {env['cuda_device'] or 'none'}. Times are medians of several samples."
        + (f" {env['problem']}; {env['rounds']}." if "problem" in env else "")
    )
    write_page(out, Page(f"refbp bench {name}", [about], sections, env))
    return out
