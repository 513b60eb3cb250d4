"""`refbp history`: the runs kept in the verdict store, newest first, or the rows of one run."""

from __future__ import annotations

import argparse
import sys

from .usage import fail_usage

HELP = """\
Every `refbp run`, `verify` and `check` is recorded in the verdict store: SQLite in
$XDG_DATA_HOME/refbp/verdicts.sqlite (~/.local/share/refbp/verdicts.sqlite) by default,
or the database that REFBP_DATABASE_URL names (e.g. postgresql+psycopg://user@host/db).
This lists the runs, newest first (inconclusive_cases: cases with no failed row but entries
no reference could judge; never counted as passed); --run ID (or a unique prefix of it)
shows that run's failed and inconclusive rows, and the one row of a case that has no rows
(bad input, a crash); --all: every row (its state column says pass, fail or inconclusive).
A prefix that several runs share is an error naming them.
"""


def register(sub):
    p = sub.add_parser(
        "history",
        help="list the runs kept in the verdict store",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--implementation", metavar="NAME", help="only implementations whose name contains NAME")
    p.add_argument("--limit", type=int, default=50, metavar="N", help="at most N runs (default: 50)")
    p.add_argument(
        "--run", metavar="ID", help="the rows of one run (its id or a unique prefix of it) instead of the list of runs"
    )
    p.add_argument(
        "--all", action="store_true", help="with --run: every row, not only the failed and inconclusive ones"
    )
    p.add_argument("--database", metavar="URL", help="the store's URL (default: REFBP_DATABASE_URL, else SQLite)")
    p.set_defaults(handler=handle)


def handle(args) -> int:
    # Imported here: SQLAlchemy and Alembic take a while to import, and only this command needs them.
    from refbp.store import AmbiguousRun, StoreError, open_store, resolve_run, run_checks, runs_frame

    if args.limit < 1:
        return fail_usage(f"--limit: must be at least 1, not {args.limit}")
    try:
        store = open_store(args.database)
    except StoreError as exc:
        return fail_usage(str(exc))
    if args.run is None:
        frame = runs_frame(store, args.implementation, args.limit)
        print(f"{len(frame)} run(s) in {store.url}", file=sys.stderr)
        if len(frame):
            print(frame.to_string(index=False))
        return 0
    try:
        run_id = resolve_run(store, args.run)
    except AmbiguousRun as exc:
        shown = ", ".join(exc.candidates[:10]) + (", ..." if len(exc.candidates) > 10 else "")
        return fail_usage(f"--run {args.run}: more than one run has an id starting so in {store.url}: {shown}")
    except KeyError:
        return fail_usage(f"--run: no run {args.run!r} in {store.url}")
    rows = run_checks(store, run_id)
    if run_id != args.run:
        print(f"run {run_id}", file=sys.stderr)
    if not args.all and len(rows):
        # The failed and the inconclusive rows ("passed" is true only in the state pass), and the one
        # row of a case with no check (bad input, a crash); never the passing rows of a failed case.
        without_checks = rows["quantity"].isna() & (rows["case_passed"] == False)  # noqa: E712 (pandas)
        rows = rows[(rows["passed"] == False) | without_checks]  # noqa: E712 (pandas)
    print(rows.to_string(index=False) if len(rows) else "no failed or inconclusive rows")
    return 0
