"""Writing a run to `reports/<run-id>/`: CSV, Markdown, HTML, a plot, verdicts and the environment.

A report folder is never reused: each run gets a new id, so nothing written earlier is lost.
"""

from __future__ import annotations

import html
import json
import os
import platform
import secrets
import sys
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from .frames import details_frame, summary_frame
from .plots_rnn import rnn_gradient_plots


def new_run_dir(report_dir, prefix: str = "run") -> Path:
    """A fresh folder `<report_dir>/<prefix>-<UTC time>-<random>`; never an existing one."""
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


def environment(run, extra: dict | None = None) -> dict:
    import torch

    from refbp import __version__

    info = {
        "refbp": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "pandas": pd.__version__,
        "reference_dtype": "float64",
        "dtypes": sorted({v.dtype for v in run.verdicts if v.dtype}),
        "device": "cpu",
        "cuda_available": bool(torch.cuda.is_available()),
        "seed": "no randomness at run time; generated cases carry their own seeds (see seeds)",
        "seeds": _case_seeds(run),
        "oracles": list(run.oracles),
        "implementation": run.implementation,
        "started": run.started,
        "seconds": round(run.seconds, 3),
        "command": " ".join(sys.argv),
    }
    info.update(extra or {})
    return info


def _case_seeds(run) -> dict:
    seeds = {}
    for verdict in run.verdicts:
        if verdict.error_kind == "input":  # a bad file may not even parse (nested too deep for json.loads)
            continue
        found = []
        try:
            document = json.loads(Path(verdict.path).read_text()) if verdict.path else {}
        except (OSError, ValueError):
            continue
        _collect_seeds(document, "", found)
        if found:
            seeds[verdict.case] = dict(found)
    return seeds


def _collect_seeds(node, where, found):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "seed" and isinstance(value, int):
                found.append((where or "root", value))
            else:
                _collect_seeds(value, f"{where}.{key}" if where else key, found)


def write_report(run, report_dir="reports", extra_environment: dict | None = None) -> Path:
    out = new_run_dir(report_dir)
    details = details_frame(run)
    summary = summary_frame(run)
    details.to_csv(out / "details.csv", index=False)
    summary.to_csv(out / "summary.csv", index=False)
    env = environment(run, extra_environment)
    (out / "environment.json").write_text(json.dumps(env, indent=2) + "\n")
    (out / "verdicts.json").write_text(json.dumps([v.to_json() for v in run.verdicts], indent=1) + "\n")
    plot = error_plot(details, out / "errors.png")
    rnn_plots = rnn_gradient_plots(run, out)
    (out / "summary.md").write_text(summary_markdown(run, summary, details, env))
    (out / "report.html").write_text(report_html(run, summary, details, env, plot, rnn_plots))
    return out


def _headline(run) -> str:
    passed = sum(v.passed for v in run.verdicts)
    return (f"{passed}/{len(run.verdicts)} cases passed, {len(run.failed)} failed, "
            f"{len(run.bad_input)} bad input ({run.seconds:.1f}s)")


def _worst_by_reference(details: pd.DataFrame) -> pd.DataFrame:
    judged = details[details["reference"].isin(["torch-autograd", "finite-difference", "expected"])]
    if judged.empty:
        return pd.DataFrame(columns=["reference", "rows", "failed", "max_abs_err", "max_rel_err"])
    return (judged.groupby("reference")
            .agg(rows=("passed", "size"), failed=("passed", lambda s: int((~s.astype(bool)).sum())),
                 max_abs_err=("max_abs_err", "max"), max_rel_err=("max_rel_err", "max"))
            .reset_index())


def summary_markdown(run, summary: pd.DataFrame, details: pd.DataFrame, env: dict) -> str:
    lines = [f"# refbp run {run.started}", "", _headline(run), "",
             f"refbp {env['refbp']}, numpy {env['numpy']}, torch {env['torch']}, python {env['python']}, "
             f"references in float64.", "", "## Largest error per reference", ""]
    lines.append(_markdown_table(_worst_by_reference(details)))
    lines += ["", "## Cases", ""]
    shown = summary.drop(columns=["path"])
    lines.append(_markdown_table(shown))
    failed = details[~details["passed"].astype(bool)]
    if not failed.empty:
        lines += ["", "## Failed rows", ""]
        lines.append(_markdown_table(failed[["case", "quantity", "tensor", "reference", "worst_index",
                                             "actual", "expected_value", "max_abs_err", "max_rel_err",
                                             "atol", "rtol", "note"]]))
    return "\n".join(lines) + "\n"


def _markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub table without the optional `tabulate` dependency of DataFrame.to_markdown."""
    def cell(value):
        if isinstance(value, float):
            return "" if np.isnan(value) else f"{value:.3g}"
        return str(value).replace("|", "\\|").replace("\n", " ")

    header = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def error_plot(details: pd.DataFrame, path: Path) -> Path | None:
    """Histogram of log10(max relative error) per reference (one value per row)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = details[details["reference"].isin(["torch-autograd", "finite-difference", "expected"])]
    if rows.empty:
        return None
    fig, ax = plt.subplots(figsize=(7, 4))
    floor = 1e-18  # exact agreement is drawn at the floor
    bins = np.arange(-18, 2.5, 0.5)
    for reference, group in rows.groupby("reference"):
        values = np.log10(np.maximum(group["max_rel_err"].astype(float).fillna(1.0).to_numpy(), floor))
        ax.hist(np.minimum(values, 2.0), bins=bins, alpha=0.55, label=f"{reference} ({len(values)} rows)")
    ax.set_xlabel("log10 max relative error of a row (exact agreement at -18)")
    ax.set_ylabel("rows")
    ax.set_title("Error distribution per reference")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; font-size: 13px; margin-bottom: 2em; }
th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: left; }
th { background: #f2f2f2; }
tr.fail td { background: #fde2e2; }
.pass { color: #176b2c; font-weight: bold; } .fail { color: #b00020; font-weight: bold; }
code { background: #f4f4f4; padding: 0 3px; }
"""


def _html_table(frame: pd.DataFrame, passed_column: str = "passed") -> str:
    rows = []
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    for record in frame.itertuples(index=False):
        values = dict(zip(frame.columns, record))
        failed = passed_column in values and not bool(values[passed_column])
        cells = []
        for value in record:
            if isinstance(value, float):
                text = "" if np.isnan(value) else f"{value:.3g}"
            else:
                text = str(value)
            cells.append(f"<td>{html.escape(text)}</td>")
        rows.append(f"<tr class=\"{'fail' if failed else ''}\">{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def report_html(run, summary, details, env, plot: Path | None, rnn_plots=()) -> str:
    ok = run.exit_code() == 0
    parts = [
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>refbp report</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>refbp run {html.escape(run.started)}</h1>",
        f"<p class=\"{'pass' if ok else 'fail'}\">{html.escape(_headline(run))}</p>",
        f"<p>refbp {env['refbp']}, numpy {env['numpy']}, torch {env['torch']}, python {env['python']}; "
        "references in float64. Tolerances: see each row's atol/rtol.</p>",
        "<h2>Largest error per reference</h2>", _html_table(_worst_by_reference(details), passed_column=""),
    ]
    if plot is not None:
        parts.append(f"<img src=\"{plot.name}\" alt=\"error distribution per reference\">")
    parts += ["<h2>Cases</h2>", _html_table(summary.drop(columns=["path"]))]
    if rnn_plots:
        parts.append("<h2>RNN: gradient reaching h_t through time (log scale)</h2>")
        parts += [f"<img src=\"{html.escape(p.name)}\" alt=\"||dE/dh_t|| of {html.escape(p.stem)}\">" for p in rnn_plots]
    failed = details[~details["passed"].astype(bool)]
    if not failed.empty:
        parts += ["<h2>Failed rows</h2>", _html_table(failed)]
    parts += ["<h2>All rows</h2>", _html_table(details.drop(columns=["path"])),
              "<h2>Environment</h2>", f"<pre>{html.escape(json.dumps(env, indent=2))}</pre>",
              "</body></html>"]
    return "\n".join(parts)
