"""`refbp bench`: timings as ratios against torch in the same process (see each benchmark's help)."""

from __future__ import annotations

import argparse
import sys

# Each benchmark module imports only numpy at import time (torch inside its main).
from refbp.bench import batch, fd, rnn

HELP = """\
Benchmarks, each timed against torch in the same process (medians of several runs).
Their numbers go into reports/bench-<id>/, never into a test.
"""

# name -> module with `HELP`, `add_arguments(parser)` and `main(args) -> int`
BENCHMARKS = {"fd": fd, "batch": batch, "rnn": rnn}


def register(sub):
    p = sub.add_parser("bench", help="benchmarks against torch", description=HELP,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    which = p.add_subparsers(dest="benchmark", metavar="BENCHMARK")
    for name, module in BENCHMARKS.items():
        q = which.add_parser(name, help=module.HELP.splitlines()[0], description=module.HELP,
                             formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(q)
        q.set_defaults(handler=module.main)
    p.set_defaults(handler=lambda args: (p.print_help(sys.stderr), 2)[1])
