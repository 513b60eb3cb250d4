"""The `refbp` command line: parses arguments and calls library functions, nothing more.

Each sub-command lives in its own module with `register(subparsers)`; its handler returns
the exit code (0 passed, 1 a check failed, 2 bad input or usage). What they share (the
one-line usage error) is in refbp.cli.usage, so no command module imports this package.
"""

from __future__ import annotations

import argparse
import sys

from refbp import __version__
from refbp.memory import keep_freed_memory
from refbp.parallel import ExecutorUnreachable

from . import (
    bench,
    cases_cmd,
    check_cmd,
    compare_cmd,
    explain_cmd,
    fuzz_cmd,
    grade_cmd,
    history_cmd,
    mutate_cmd,
    run_cmd,
    schema_cmd,
    serve_cmd,
    verify_cmd,
)
from .extras import extra_line
from .usage import fail_usage

COMMANDS = (
    run_cmd,
    verify_cmd,
    check_cmd,
    explain_cmd,
    cases_cmd,
    compare_cmd,
    history_cmd,
    schema_cmd,
    serve_cmd,
    fuzz_cmd,
    mutate_cmd,
    bench,
    grade_cmd,
)

DESCRIPTION = """\
refbp checks a hand-written backpropagation (MLPs and a simple RNN) case by case
against PyTorch autograd in float64 and against finite differences, and writes the
results as pandas reports under reports/<run-id>/.

Exit codes: 0 all checks passed, 1 a check failed, 2 bad input or usage, 130 Ctrl-C (run,
verify, check and fuzz keep and report what was checked before it).
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="refbp", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"refbp {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code or 0)
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return 2
    keep_freed_memory()  # numpy's arrays of a step are reused, not faulted in again (refbp.memory)
    try:
        return int(args.handler(args))
    except ExecutorUnreachable as exc:  # found when the run starts: nothing was checked or written
        return fail_usage(str(exc))
    except ImportError as exc:  # an optional extra (service, store-postgres, cluster) not installed
        line = extra_line(args.command, exc)
        if line is None:
            raise
        print(line, file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # the workers are stopped and no report was left half-written
        print(f"refbp {args.command}: interrupted (a report is written only when a run completes)", file=sys.stderr)
        return 130
