"""What every benchmark shares on its way out: backend selection, the console table, `--json`,
and the report folder `reports/bench-<id>/` (results.csv, summary.md, report.html, PNG plots,
environment.json)."""

from __future__ import annotations

import html
import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

from .measure import cuda_available


class BenchUsageError(ValueError):
    """Bad options (an unknown backend, cuda without CUDA): one line on stderr, exit 2."""


def add_common_arguments(parser, backends: dict) -> None:
    parser.add_argument("--device", choices=("cpu", "cuda", "all"), default="all",
                        help="which backends to time: cpu ones, cuda ones, or all (default; cuda rows "
                             "only when CUDA is available)")
    parser.add_argument("--backends", metavar="LIST",
                        help=f"comma-separated subset of: {', '.join(backends)}")
    parser.add_argument("--quick", action="store_true", help="a few small sizes and short medians (for tests)")
    parser.add_argument("--json", action="store_true", help="print the rows as a JSON list on stdout (table on stderr)")
    parser.add_argument("--report-dir", default="reports", metavar="DIR",
                        help="where the report folder bench-<id>/ is written (default: ./reports)")
    parser.add_argument("--no-report", action="store_true", help="write no report folder")


def select_backends(args, backends: dict) -> list[str]:
    """The backends to time, in the registry's order; `backends` maps a name to its device."""
    has_cuda = cuda_available()
    if args.backends:
        chosen = [b.strip() for b in args.backends.split(",") if b.strip()]
        unknown = [b for b in chosen if b not in backends]
        if unknown or not chosen:
            raise BenchUsageError(f"--backends: unknown backend {', '.join(unknown) or '(none)'} "
                                  f"(known: {', '.join(backends)})")
    else:
        chosen = [b for b, device in backends.items() if args.device in ("all", device)]
    if not has_cuda:
        if args.device == "cuda" or (args.backends and any(backends[b] == "cuda" for b in chosen)):
            raise BenchUsageError("CUDA is not available on this machine (torch.cuda.is_available() is false)")
        chosen = [b for b in chosen if backends[b] != "cuda"]
    return [b for b in backends if b in chosen]


def fail_usage(message: str) -> int:
    print(f"refbp bench: error: {message}", file=sys.stderr)
    return 2


def emit(frame: pd.DataFrame, args, title: str, report: Path | None, notes: list[str]) -> None:
    """The table (stderr with --json), the goal lines, the report folder; with --json the rows on stdout."""
    import pandas as pd

    out = sys.stderr if args.json else sys.stdout
    print(title, file=out)
    with pd.option_context("display.width", 200, "display.max_rows", 1000, "display.max_columns", 30):
        print(frame.to_string(index=False, float_format=lambda v: f"{v:.4g}"), file=out)
    for line in notes:
        print(line, file=out)
    if report is not None:
        print(f"report: {report}", file=out)
    if args.json:
        json.dump([_plain(row) for row in frame.to_dict(orient="records")], sys.stdout, indent=1)
        sys.stdout.write("\n")


def _plain(row: dict) -> dict:
    """JSON-safe values (NaN, a missing number, becomes null)."""
    clean = {}
    for key, value in row.items():
        if hasattr(value, "item"):
            value = value.item()
        if isinstance(value, float) and not math.isfinite(value):
            value = None
        clean[key] = value
    return clean


def write_report(name: str, frame: pd.DataFrame, sections: list, plots: list, env: dict, report_dir) -> Path:
    """`<report_dir>/bench-<name>-<time>-<hex>/`. `sections`: (heading, DataFrame | str) pairs;
    `plots`: (file name, caption, draw(frame, path) -> bool) triples."""
    import pandas as pd

    from refbp.report.write import STYLE, _html_table, _markdown_table, new_run_dir

    out = new_run_dir(report_dir, f"bench-{name}")
    frame.to_csv(out / "results.csv", index=False)
    (out / "environment.json").write_text(json.dumps(env, indent=2) + "\n")
    drawn = []
    for filename, caption, draw in plots:
        if draw(frame, out / filename):
            drawn.append((filename, caption))
    md = [f"# refbp bench {name}", "", f"{env.get('processor', '')}; numpy {env['numpy']}, torch {env['torch']}"
          f" ({env['torch_threads']} threads), CUDA: {env['cuda_device'] or 'none'}. "
          "Times are medians of several samples.", ""]
    page = ["<!doctype html><html><head><meta charset=\"utf-8\">",
            f"<title>refbp bench {html.escape(name)}</title><style>{STYLE}</style></head><body>",
            f"<h1>refbp bench {html.escape(name)}</h1>", f"<p>{html.escape(md[2])}</p>"]
    for heading, body in sections:
        md += [f"## {heading}", ""]
        page.append(f"<h2>{html.escape(heading)}</h2>")
        if isinstance(body, pd.DataFrame):
            md.append(_markdown_table(body))
            page.append(_html_table(body, passed_column=""))
        else:
            md.append(body)
            page.append("".join(f"<p>{html.escape(p)}</p>" for p in body.split("\n\n")))
        md.append("")
    if drawn:
        md += ["## Plots", ""] + [f"![{caption}]({filename})" for filename, caption in drawn] + [""]
        page += ["<h2>Plots</h2>"] + [f"<p>{html.escape(caption)}</p><img src=\"{filename}\" alt=\"{html.escape(caption)}\">"
                                      for filename, caption in drawn]
    md += ["## All rows", "", _markdown_table(frame), ""]
    page += ["<h2>All rows</h2>", _html_table(frame, passed_column=""),
             "<h2>Environment</h2>", f"<pre>{html.escape(json.dumps(env, indent=2))}</pre>", "</body></html>"]
    (out / "summary.md").write_text("\n".join(md))
    (out / "report.html").write_text("\n".join(page))
    return out


def figure(panels: int):
    """A row of `panels` axes on a headless (Agg) canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.2 * panels, 4.2))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, panels, squeeze=False)[0]
    return fig, list(axes)


def save_figure(fig, axes, path) -> bool:
    """The first panel's legend, a tight layout, the PNG."""
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return True


BACKEND_COLORS = {
    "refbp-numpy": "tab:blue", "refbp-torch-cpu": "tab:green", "torch-autograd-cpu": "tab:orange",
    "torch-nn-rnn-cpu": "tab:orange", "refbp-torch-cuda": "tab:purple", "torch-autograd-cuda": "tab:red",
    "torch-nn-rnn-cuda": "tab:red",
}
