"""`refbp mutate`: mutation testing of refbp.nn's backward, loss gradient and update code against the suite."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .usage import fail_usage

HELP = """\
Mutate refbp.nn's backward passes, loss gradients and optimizers one edit at a time
(operators, constants and indices, transpositions, signs, dropped terms and statements),
and run the shipped suite (`refbp run`: every case, every reference) against each mutant,
in a temporary copy of the project (the working tree is never changed). A mutant is
killed when a case fails; the run stops the suite at the first failing case.

Prints the score (killed / non-equivalent mutants) and every survivor: each is either
listed as equivalent in refbp/mutate/equivalent.py with the reason, or a gap in the suite.
Exit codes: 0 every non-equivalent mutant killed, 1 a survivor not listed as equivalent (or
a listed one killed), 2 bad usage or a suite that fails unmutated.
"""


def register(sub):
    p = sub.add_parser(
        "mutate",
        help="mutation testing of refbp.nn against the suite",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="case files or folders, relative to the project (default: the whole shipped suite)",
    )
    p.add_argument(
        "--function",
        action="append",
        metavar="NAME",
        help="only the mutants of this function (module.Class.method, e.g. dense.backward); repeatable",
    )
    p.add_argument("--limit", type=int, metavar="N", help="only the first N mutants")
    p.add_argument("--list", action="store_true", help="list the mutants without running anything")
    p.add_argument(
        "--report",
        type=Path,
        metavar="FILE",
        help="write the full report (markdown: every mutant, who killed it, each equivalent one's reason) to FILE",
    )
    p.add_argument(
        "--summary",
        type=Path,
        metavar="FILE",
        help="write the summary (score, counts per file and operator, survivors) to FILE: docs/mutation.md "
        "is written so",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=300.0,
        metavar="S",
        help="seconds the suite may take on one mutant before it counts as killed (default 300)",
    )
    p.set_defaults(handler=handle)


def handle(args) -> int:
    from refbp.mutate import (
        SuiteFailsUnmutated,
        mutants_of,
        report_lines,
        report_markdown,
        report_summary,
        run_mutation,
    )
    from refbp.mutate.run import project_root

    root = project_root()
    mutants = mutants_of(root)
    if args.function:
        unknown = set(args.function) - {m.function for m in mutants}
        if unknown:
            return fail_usage(f"--function: no mutant in {', '.join(sorted(unknown))}")
        mutants = [m for m in mutants if m.function in args.function]
    if args.limit is not None:
        mutants = mutants[: max(args.limit, 0)]
    if args.list:
        print("\n".join(f"{m.path}:{m.line} {m.key} ({m.label})" for m in mutants))
        return 0
    missing = [p for p in args.paths if not (root / p).exists()]
    if missing:
        return fail_usage(f"no such file or folder in {root}: {', '.join(missing)}")
    try:
        run = run_mutation(mutants, paths=args.paths or None, root=root, timeout=args.timeout, on_result=_progress)
    except SuiteFailsUnmutated as exc:
        return fail_usage(str(exc))
    print("\n".join(report_lines(run)))
    for path, text in ((args.report, report_markdown), (args.summary, report_summary)):
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text(run))
            except OSError as exc:
                print(f"refbp mutate: {path}: cannot write: {exc.strerror or exc}", file=sys.stderr)
                return 2
    return run.exit_code()


def _progress(result) -> None:
    mark = "killed" if result.killed else ("equivalent" if result.equivalent else "SURVIVED")
    print(f"{mark:>10}  {result.seconds:5.1f}s  {result.mutant.key}", file=sys.stderr, flush=True)
