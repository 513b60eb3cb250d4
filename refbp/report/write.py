"""Writing a run to `reports/<run-id>/`: CSV, Markdown, HTML, plots, verdicts and the environment.

A report folder is never reused: each run gets a new id, so nothing written earlier is lost.
Everything written comes from the run's verdicts; nothing is reloaded or recomputed.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from pathlib import Path

from .environment import environment
from .frames import details_frame, summary_frame, worst_by_reference
from .page import Page, Section, write_page
from .plots import error_plot
from .plots_rnn import rnn_gradient_plots

FAILED_ROW_COLUMNS = ["case", "quantity", "tensor", "reference", "worst_index", "actual", "expected_value",
                      "max_abs_err", "max_rel_err", "atol", "rtol", "note", "diagnosis", "diagnosis_note"]


def new_run_dir(report_dir, prefix: str = "run") -> Path:
    """A fresh folder `<report_dir>/<prefix>-<local time>-<random>`; never an existing one."""
    root = Path(report_dir)
    root.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    while True:
        path = root / f"{prefix}-{stamp}-{secrets.token_hex(2)}"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue


def run_environment(run, extra: dict | None = None) -> dict:
    """environment.json of a run: versions, the run's dtypes, references and implementation, and the
    generated cases' seeds as their verdicts carry them."""
    seeds = {v.case: v.seeds for v in run.verdicts if v.seeds}
    return environment({
        "reference_dtype": "float64",
        "dtypes": sorted({v.dtype for v in run.verdicts if v.dtype}),
        "device": "cpu",
        "seed": "no randomness at run time; generated cases carry their own seeds (see seeds)",
        "seeds": seeds,
        "oracles": list(run.oracles),
        "implementation": run.implementation,
        "started": run.started,
        "seconds": round(run.seconds, 3),
        **(extra or {}),
    })


def write_report(run, report_dir="reports", extra_environment: dict | None = None) -> Path:
    out = new_run_dir(report_dir)
    details = details_frame(run)
    summary = summary_frame(run)
    details.to_csv(out / "details.csv", index=False)
    summary.to_csv(out / "summary.csv", index=False)
    env = run_environment(run, extra_environment)
    (out / "environment.json").write_text(json.dumps(env, indent=2) + "\n")
    (out / "verdicts.json").write_text(json.dumps([v.to_json() for v in run.verdicts], indent=1) + "\n")
    plot = error_plot(details, out / "errors.png")
    rnn_plots = rnn_gradient_plots(run, out)
    write_page(out, run_page(run, summary, details, env, plot, rnn_plots))
    return out


def headline(run) -> str:
    passed = sum(v.passed for v in run.verdicts)
    return (f"{passed}/{len(run.verdicts)} cases passed, {len(run.failed)} failed, "
            f"{len(run.bad_input)} bad input ({run.seconds:.1f}s)")


def run_page(run, summary, details, env, plot: Path | None, rnn_plots=()) -> Page:
    failed = details[~details["passed"].astype(bool)]
    sections = [
        Section("Largest error per reference", table=worst_by_reference(details),
                images=[(plot.name, "error distribution per reference")] if plot is not None else []),
        Section("Cases", table=summary.drop(columns=["path"]), fail_column="passed"),
    ]
    if rnn_plots:
        sections.append(Section("RNN: gradient reaching h_t through time (log scale)",
                                images=[(p.name, f"||dE/dh_t|| of {p.stem}") for p in rnn_plots]))
    if not failed.empty:
        sections.append(Section("Failed rows", table=failed[FAILED_ROW_COLUMNS]))
    sections.append(Section("All rows", table=details.drop(columns=["path"]), fail_column="passed",
                            in_markdown=False))
    versions = (f"refbp {env['refbp']}, numpy {env['numpy']}, torch {env['torch']}, python {env['python']}; "
                "references in float64. Tolerances: see each row's atol/rtol.")
    return Page(f"refbp run {run.started}", [headline(run), versions], sections, env,
                status="pass" if run.exit_code() == 0 else "fail")
