"""`refbp bench`: parses each benchmark's options, runs it, prints its rows and goal lines, writes its report.

A benchmark module (refbp.bench.batch, .rnn, .fd, .check, .service) gives `Options`, `run(options) -> DataFrame`,
`goal_lines(frame)`, `environment(options)` and `TITLE`; nothing here measures or computes.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys

from .bench_options import (
    BATCH_HELP,
    CHECK_HELP,
    FD_HELP,
    JOBS_HELP,
    RNN_HELP,
    SERVICE_HELP,
    THREADS,
    add_backend_arguments,
    add_batch_arguments,
    add_check_arguments,
    add_fd_arguments,
    add_jobs_arguments,
    add_output_arguments,
    add_rnn_arguments,
    add_service_arguments,
    names,
    positive_ints,
)
from .usage import fail_usage

__all__ = [
    "BATCH_HELP",
    "BENCHMARKS",
    "CHECK_HELP",
    "FD_HELP",
    "HELP",
    "JOBS_HELP",
    "RNN_HELP",
    "SERVICE_HELP",
    "THREADS",
    "add_backend_arguments",
    "add_batch_arguments",
    "add_check_arguments",
    "add_fd_arguments",
    "add_jobs_arguments",
    "add_output_arguments",
    "add_rnn_arguments",
    "add_service_arguments",
    "handle",
    "names",
    "positive_ints",
    "register",
]

HELP = """\
Benchmarks, each timed against torch in the same process (medians of several runs).
Their numbers go into reports/bench-<id>/, never into a test.
"""


# name -> (module, help, add_arguments, the module's Options from (module, the parsed arguments)).
# The modules are imported only when their bench runs: they bring pandas and the report layer.
BENCHMARKS = {
    "fd": ("refbp.bench.fd", FD_HELP, add_fd_arguments, lambda m, a: m.Options(quick=a.quick, repeats=a.repeats)),
    "check": (
        "refbp.bench.check",
        CHECK_HELP,
        add_check_arguments,
        lambda m, a: m.Options(quick=a.quick, repeats=a.repeats, impl=a.impl, suite=not a.no_suite),
    ),
    "batch": (
        "refbp.bench.batch",
        BATCH_HELP,
        add_batch_arguments,
        lambda m, a: m.Options(
            device=a.device, backends=a.backends, quick=a.quick, batches=a.batches, serial=not a.no_serial
        ),
    ),
    "rnn": (
        "refbp.bench.rnn",
        RNN_HELP,
        add_rnn_arguments,
        lambda m, a: m.Options(device=a.device, backends=a.backends, quick=a.quick, batches=a.batches, steps=a.steps),
    ),
    "service": (
        "refbp.bench.service",
        SERVICE_HELP,
        add_service_arguments,
        lambda m, a: m.Options(
            clients=a.clients,
            requests=a.requests,
            seconds=a.seconds,
            workers=a.workers,
            threads=a.threads,
            case=a.case,
            quick=a.quick,
        ),
    ),
    "jobs": (
        "refbp.bench.jobs",
        JOBS_HELP,
        add_jobs_arguments,
        lambda m, a: m.Options(
            jobs=a.jobs, rounds=a.rounds, workloads=a.workloads, examples=a.examples, dask=a.dask, quick=a.quick
        ),
    ),
}


def register(sub):
    p = sub.add_parser(
        "bench", help="benchmarks against torch", description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    which = p.add_subparsers(dest="benchmark", metavar="BENCHMARK")
    for name, (_, text, add_arguments, _) in BENCHMARKS.items():
        q = which.add_parser(
            name, help=text.splitlines()[0], description=text, formatter_class=argparse.RawDescriptionHelpFormatter
        )
        add_arguments(q)
        q.set_defaults(handler=handle)
    p.set_defaults(handler=lambda args: (p.print_help(sys.stderr), 2)[1])


def handle(args) -> int:
    # The report layer imports pandas, jinja2 and matplotlib: only when a bench runs, not when the CLI starts.
    from refbp.bench.common import BenchUsageError
    from refbp.report.bench import write_bench_report
    from refbp.report.console import format_bench, json_rows

    name, _, _, options_of = BENCHMARKS[args.benchmark]
    module = importlib.import_module(name)
    options = options_of(module, args)
    try:
        frame = module.run(options)
    except BenchUsageError as exc:
        return fail_usage(str(exc), "refbp bench")
    goals = module.goal_lines(frame)
    report = None
    if not args.no_report:
        report = write_bench_report(args.benchmark, frame, goals, module.environment(options), args.report_dir)
    print(format_bench(frame, module.TITLE, goals, report), file=sys.stderr if args.json else sys.stdout)
    if args.json:
        json.dump(json_rows(frame), sys.stdout, indent=1)
        sys.stdout.write("\n")
    return 0
