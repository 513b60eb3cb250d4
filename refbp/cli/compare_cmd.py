"""`refbp compare`: implementations side by side, per case and per tensor."""

from __future__ import annotations

import argparse
import sys

from .usage import fail_usage, folder_problem, os_problem

HELP = """\
Each SOURCE is one column: a report folder of `refbp run`, `verify` or `check`
(reports/run-...), a verdict file (the JSON list `--json` prints), or a run kept in the
verdict store, as store:RUN_ID (a unique prefix is enough; `refbp history` lists them).
Writes reports/compare-<time>-<id>/: cases.csv and summary.md (status and worst relative
error per reference, per column), tensors.csv (every row side by side), report.html and
heatmap.png (log10 error, case x implementation, failed cells marked). A case whose hash
differs between columns is marked "case changed" and not compared. A --report-dir that is a
file, lies under one or cannot be written is refused before any source is read (exit 2).
"""


def register(sub):
    p = sub.add_parser(
        "compare",
        help="compare implementations side by side",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("sources", nargs="+", metavar="SOURCE")
    p.add_argument("--report-dir", default="reports", metavar="DIR", help="where to write (default: reports/)")
    p.add_argument("--database", metavar="URL", help="the store for store:RUN sources (default: REFBP_DATABASE_URL)")
    p.set_defaults(handler=handle)


def handle(args) -> int:
    from refbp.compare import case_table, load_column
    from refbp.compare.columns import ColumnError
    from refbp.compare.write import write_comparison

    problem = folder_problem("--report-dir", args.report_dir)  # before any source is read
    if problem:
        return fail_usage(problem)
    columns, bad = [], 0
    for source in args.sources:
        try:
            columns.append(load_column(source, args.database))
        except ColumnError as exc:
            print(f"refbp: error: {exc}", file=sys.stderr)
            bad += 1
    if not columns:
        return fail_usage("nothing to compare")
    table = case_table(columns)
    shown = [c for c in table.columns if c == "case" or c.endswith(": status")]
    print(table[shown].to_string(index=False))
    try:
        out = write_comparison(columns, args.report_dir)
    except OSError as exc:  # the folder became unwritable meanwhile: the table above is the comparison
        return fail_usage(f"--report-dir {args.report_dir}: cannot write the comparison: {os_problem(exc)}")
    print(f"report: {out}", file=sys.stderr)
    return 2 if bad else 0
