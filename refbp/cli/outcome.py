"""What `run` and `verify` share on the command line: options and paths taken in any order,
the report folder checked before any work, and the outcome printed (the table on stdout, or
on stderr with --json; every error and note on stderr, one line each)."""

from __future__ import annotations

import argparse
import functools
import json
import shutil
import sys
import tempfile
from pathlib import Path

from refbp.check.check_case import ORACLES
from refbp.parallel import executor_problem, map_units, parse_jobs, start_workers

from .store_note import record_in_store, recorded_line
from .usage import folder_problem

CONVENTIONS = ("any", "torch")
CONVENTIONS_HELP = (
    "torch: only torch's own choices pass where correct implementations may differ (relu'(0) = 0, "
    "BCELoss's backward); default any: every admissible convention, docs/formats.md 'Conventions'"
)
STRICT_HELP = (
    "an inconclusive case (an entry no reference could judge to the accuracy needed) fails the run: "
    "exit 1 (default: exit 0; an inconclusive case is never counted as passed)"
)

# What `finish` imports after a run (pandas, matplotlib, SQLAlchemy: about a second): with
# workers, imported while they start, on a core they leave free then.
AFTER_THE_RUN = ("refbp.report", "refbp.store")
EXIT_INTERRUPTED = 130  # Ctrl-C (refbp.check.suite.EXIT_INTERRUPTED)


class AnyOrderParser(argparse.ArgumentParser):
    """A sub-command parser that takes its options between the positional paths as well
    (`refbp verify --cases DIR a.json --no-report b.json`): argparse alone stops the
    positionals at the first option and refuses the rest."""

    _inside = False

    def parse_known_args(self, args=None, namespace=None):
        if self._inside:  # parse_known_intermixed_args calls this method itself
            return super().parse_known_args(args, namespace)
        self._inside = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._inside = False


def any_order(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Make a parser made by `add_parser` an AnyOrderParser (add_parser takes no class of its own)."""
    parser.__class__ = AnyOrderParser
    return parser


def add_judging_options(parser) -> None:
    """--conventions and --strict, as run, verify, check and fuzz take them."""
    parser.add_argument("--conventions", choices=CONVENTIONS, default="any", help=CONVENTIONS_HELP)
    parser.add_argument("--strict", action="store_true", help=STRICT_HELP)


def add_common_options(parser, fd_help: str, fd_methods) -> None:
    """--oracle, --fd-method, --report-dir, --no-report, --json, --jobs, --executor, --conventions
    and --strict, as run, verify and check take them."""
    parser.add_argument(
        "--oracle",
        default="torch,fd,expected",
        metavar="LIST",
        help="references, comma-separated from torch, fd, expected (default: all)",
    )
    parser.add_argument("--fd-method", choices=fd_methods, help=fd_help)
    parser.add_argument(
        "--report-dir",
        default="reports",
        metavar="DIR",
        help="where the report folder <run-id>/ is written (default: ./reports)",
    )
    parser.add_argument("--no-report", action="store_true", help="write no report folder")
    parser.add_argument(
        "--json", action="store_true", help="print the verdicts (refbp-verdict/1, a JSON list) on stdout only"
    )
    parser.add_argument(
        "--jobs",
        default="1",
        metavar="N",
        help="check the cases in N local worker processes, each with its share of the cores' "
        "BLAS threads (auto: one per core; default: 1, in this process). The report is "
        "the same whatever N, apart from timings",
    )
    parser.add_argument(
        "--executor",
        metavar="dask://HOST:PORT",
        help="check the cases on this Dask cluster instead (pip install 'refbp[cluster]'; the "
        "workers need refbp installed); a case whose worker dies is retried as the "
        "scheduler's allowed-failures says, then reported as an error naming it",
    )
    add_judging_options(parser)


def parse_oracles(text: str) -> tuple[str, ...]:
    """--oracle's list of references; ValueError naming an unknown one."""
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in ORACLES]
    if unknown or not names:
        raise ValueError(f"--oracle: unknown reference {', '.join(unknown) or '(none)'} (known: {', '.join(ORACLES)})")
    return names


def run_settings(args) -> tuple[tuple[str, ...], int, str | None]:
    """(oracles, jobs, executor) from --oracle, --jobs and --executor, with the report folder
    checked (--report-dir); ValueError naming the option that is wrong, before any work. With
    --jobs N > 1 the workers start now (refbp.parallel.start_workers)."""
    oracles = parse_oracles(args.oracle)
    problem = executor_problem(args.executor) or ("" if args.no_report else report_root_problem(args.report_dir))
    if problem:
        raise ValueError(problem)
    jobs = parse_jobs(args.jobs)
    start_workers(jobs, args.executor, meanwhile=AFTER_THE_RUN)
    return oracles, jobs, args.executor


def report_root_problem(report_dir) -> str:
    """Why no report folder can be made under `report_dir` ("" when one can): asked before any work,
    so that a run never ends in a traceback after all its checks, with nothing written."""
    return folder_problem("--report-dir", report_dir)


def write_report_of(run, args, extra_environment: dict | None = None) -> Path | None:
    """The report folder of a run, or None: with --no-report, and for a run that checked nothing."""
    from refbp.report import write_report  # pandas and matplotlib: imported only when a report is written

    if args.no_report or run.nothing_checked():
        return None
    # Written in a hidden folder beside the others and moved into place when complete: Ctrl-C
    # (or a full disk) while writing leaves no half-written report.
    root = Path(args.report_dir)
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".partial-", dir=root))
    try:
        written = write_report(run, staging, extra_environment, draw=picture_drawer(args))
        final = root / written.name
        written.rename(final)
        return final
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def picture_drawer(args):
    """How the report's pictures are drawn: where the cases were checked (--jobs's local workers,
    or --executor's cluster), by refbp.parallel.map_units; the report itself knows no workers."""
    jobs = parse_jobs(args.jobs) if getattr(args, "jobs", None) else 1
    return functools.partial(map_units, jobs=jobs, executor=getattr(args, "executor", None))


def print_outcome(run, table: str, as_json: bool) -> int:
    """The table, the notes and the errors, the verdicts with --json; returns the run's exit code."""
    print(table, file=sys.stderr if as_json else sys.stdout)
    for note in run.notes:
        print(f"refbp: note: {note}", file=sys.stderr)
    if not as_json:  # with --json the table is on stderr and already holds each error's line
        for error in (
            error for verdict in run.verdicts if verdict.error_kind != "unsupported" for error in verdict.errors
        ):
            print(error, file=sys.stderr)
    if run.nothing_checked():
        print(f"refbp: error: {run.nothing_checked()}", file=sys.stderr)
    if as_json:
        json.dump([v.to_json() for v in run.verdicts], sys.stdout, indent=1)
        sys.stdout.write("\n")
    return run.exit_code()


def finish(run, args, command: str, *extra, implementation_version: str = "") -> int:
    """After a run, verify or check: the report folder, the run kept in the verdict store, and
    the outcome printed; returns the exit code. `extra`: dicts (or None) for environment.json; a
    run that Ctrl-C ended adds its note as "interrupted". A report folder that cannot be written
    after all (it was checked before the run) loses nothing: the report goes into a temporary
    folder, named on stderr, and the run exits 2 (130 when interrupted)."""
    from refbp.report import format_run  # pandas: imported only once there is a run to show
    from refbp.report.write import interruption

    run.strict = bool(getattr(args, "strict", False))  # before anything reads its exit code
    environment: dict = {}
    for more in extra:
        environment.update(more or {})
    if interruption(run):
        environment.setdefault("interrupted", interruption(run))
    problem = ""
    try:
        report_dir = write_report_of(run, args, environment or None)
    except OSError as exc:
        report_dir, problem = report_elsewhere(run, args, environment or None, exc)
    kept = record_in_store(run, command, implementation_version)
    code = print_outcome(run, format_run(run, report_dir) + recorded_line(kept), args.json)
    if problem:
        print(f"refbp: error: {problem}", file=sys.stderr)
        return code if code == EXIT_INTERRUPTED else 2
    return code


def report_elsewhere(run, args, environment, exc: OSError) -> tuple[Path | None, str]:
    """(the report folder written in a temporary folder, or None, and the line saying why and where)."""
    from refbp.report import write_report

    from .usage import os_problem

    why = f"--report-dir {args.report_dir}: cannot write the report: {os_problem(exc)}"
    try:
        written = write_report(run, tempfile.mkdtemp(prefix="refbp-report-"), environment, draw=picture_drawer(args))
    except OSError as again:
        return None, f"{why}; nor in a temporary folder: {os_problem(again)}"
    return written, f"{why}; it was written in {written} instead"
