"""`refbp verify`: verdicts for the results of another implementation."""

from __future__ import annotations

import argparse
import json
import sys

HELP = """\
Judge the results of ANOTHER implementation (any language) of the suite's cases.

Export the cases (`refbp cases export DIR`), let your implementation read each case and
write a refbp-result/1 document (or a refbp-results/1 bundle) with any of: outputs, loss,
grads (of the loss at the case's initial parameters), params_after, loss_after. Then:

    refbp verify my-results/*.json

Each provided quantity is compared with torch autograd in float64, with central finite
differences of the torch reference's loss, and with the case's published values; what a
result does not provide is listed as "not provided", never passed.
Exit codes: 0 all passed, 1 a check failed, 2 bad input (a malformed result, an unknown
case id, a wrong shape).
"""


from .run_cmd import FD_METHODS


def register(sub):
    p = sub.add_parser("verify", help="verdicts for another implementation's results", description=HELP,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("results", nargs="+", metavar="RESULT.json", help="refbp-result/1 files or refbp-results/1 bundles")
    p.add_argument("--cases", nargs="+", metavar="PATH", help="where the cases are (default: the installed suite)")
    p.add_argument("--oracle", default="torch,fd,expected", metavar="LIST",
                   help="references, comma-separated from torch, fd, expected (default: all)")
    p.add_argument("--fd-method", choices=FD_METHODS,
                   help="how the finite-difference reference is computed (default: central differences; "
                        "complex is refused: the torch reference has no complex-capable forward)")
    p.add_argument("--report-dir", default="reports", metavar="DIR", help="where the report folder goes (default: ./reports)")
    p.add_argument("--no-report", action="store_true", help="write no report folder")
    p.add_argument("--json", action="store_true", help="print the verdicts (refbp-verdict/1, a JSON list) on stdout only")
    p.set_defaults(handler=handle)


def handle(args) -> int:
    from refbp.check.verify import verify_results
    from refbp.report import format_run, write_report

    from .usage import fail_usage
    from .run_cmd import parse_oracles

    try:
        oracles = parse_oracles(args.oracle)
    except ValueError as exc:
        return fail_usage(str(exc))
    run = verify_results(args.results, args.cases, oracles=oracles, fd_method=args.fd_method)
    report_dir = None if args.no_report else write_report(run, args.report_dir)
    print(format_run(run, report_dir), file=sys.stderr if args.json else sys.stdout)
    if args.json:
        json.dump([v.to_json() for v in run.verdicts], sys.stdout, indent=1)
        sys.stdout.write("\n")
    return run.exit_code()
