"""`refbp bench`: timings as ratios against torch in the same process (see each benchmark's help)."""

from __future__ import annotations

import argparse
import sys

HELP = """\
Benchmarks, each timed against torch in the same process (medians of several runs).
Their numbers go into reports/bench-<id>/, never into a test.
"""

BENCHMARKS: dict = {}  # name -> module with `add_arguments(parser)` and `main(args) -> int`

from refbp.bench import batch as _batch  # noqa: E402  (light imports: numpy only)
from refbp.bench import rnn as _rnn  # noqa: E402

BENCHMARKS["batch"] = _batch
BENCHMARKS["rnn"] = _rnn

from refbp.bench import fd as _fd  # noqa: E402  (numpy only at import; torch inside main)

BENCHMARKS["fd"] = _fd


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
