"""The options a CI system wants of run, check, verify and fuzz: --junit-xml, --xfails and
--strict-xfail. Each command adds them with `add_ci_options(parser)` and ends with one call
(`finish_ci`, `finish_fuzz_ci`); the work is in refbp.check.xfails and refbp.report.junit.

The files are checked while the arguments are read, before any work: a --xfails file that
cannot be read, or a --junit-xml whose folder cannot be written, is one line on stderr and
exit 2, with nothing checked.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .usage import fail_usage, folder_problem, os_problem

JUNIT_HELP = (
    "also write the run as JUnit XML into FILE (one test case per case part: forward, each gradient, "
    "training; a failure carries its diagnosis, an inconclusive part is skipped with the reason)"
)
XFAILS_HELP = (
    "expected failures: one `PATTERN  # REASON` a line, PATTERN a case id, CASE/QUANTITY or "
    "CASE/QUANTITY/TENSOR (globs allowed), docs/formats.md 'Expected failures'. A failure covered by "
    "an entry is XFAIL and does not fail the run; an entry whose rows all pass is XPASS"
)
STRICT_XFAIL_HELP = "an XPASS (an expected failure that passed) fails the run: exit 1"


class XfailsArgument:
    """--xfails FILE, read when the arguments are: its path and its entries."""

    def __init__(self, path: str):
        from refbp.check.xfails import XfailsError, read_xfails

        self.path = path
        try:
            self.entries = read_xfails(path)
        except XfailsError as exc:
            fail_usage(str(exc))
            raise SystemExit(2) from None


def junit_path(text: str) -> Path:
    """--junit-xml FILE: refused at once when FILE is a folder or its folder cannot be written."""
    path = Path(text)
    problem = (
        f"--junit-xml {text}: is a folder"
        if path.is_dir()
        else folder_problem("--junit-xml", path.parent)
        if str(path.parent) not in ("", ".")
        else ""
    )
    if problem:
        fail_usage(problem)
        raise SystemExit(2)
    return path


def add_ci_options(parser, xfails: bool = True) -> None:
    """--junit-xml FILE and (unless `xfails` is False) --xfails FILE and --strict-xfail."""
    parser.add_argument("--junit-xml", metavar="FILE", type=junit_path, help=JUNIT_HELP)
    if xfails:
        parser.add_argument("--xfails", metavar="FILE", type=XfailsArgument, help=XFAILS_HELP)
        parser.add_argument("--strict-xfail", action="store_true", help=STRICT_XFAIL_HELP)


def finish_ci(run, args, command: str, finish) -> int:
    """`finish(run)` (the command's report, store and table) with the run read against --xfails
    first, then the JUnit file written; returns the exit code (2 when the JUnit file could not
    be written after all)."""
    xfails = getattr(args, "xfails", None)
    if xfails is not None:
        from refbp.check.xfails import with_expectations

        run = with_expectations(run, xfails.entries, strict_xfail=args.strict_xfail, path=xfails.path)
    code = finish(run)
    if args.junit_xml is not None:
        from refbp.report.junit import run_junit, write_junit

        code = _write(lambda: write_junit(run_junit(run, command), args.junit_xml), args.junit_xml, code)
    return code


def finish_fuzz_ci(run, args, code: int) -> int:
    """After a fuzz run: its score line, and the JUnit file with --junit-xml."""
    checked = len(run.checked)
    passed = sum(o.passed for o in run.checked)
    print(f"score: {passed}/{checked} examples ({100 * passed // checked if checked else 0} %)")
    if args.junit_xml is not None:
        from refbp.report.junit import fuzz_junit, write_junit

        code = _write(lambda: write_junit(fuzz_junit(run), args.junit_xml), args.junit_xml, code)
    return code


def _write(write, path, code: int) -> int:
    try:
        write()
    except OSError as exc:
        print(f"refbp: error: --junit-xml {path}: cannot write it: {os_problem(exc)}", file=sys.stderr)
        return code if code == 130 else 2
    return code
