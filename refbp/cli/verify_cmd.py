"""`refbp verify`: verdicts for the results of another implementation."""

from __future__ import annotations

import argparse

from .ci_options import add_ci_options, finish_ci
from .outcome import add_common_options, any_order, finish, run_settings
from .run_cmd import FD_METHODS
from .usage import fail_usage

HELP = """\
Judge the results of ANOTHER implementation (any language) of the suite's cases.

Export the cases (`refbp cases export DIR`), let your implementation read each case and
write a refbp-result/1 document (or a refbp-results/1 bundle) with any of: outputs, loss,
grads (of the loss at the case's initial parameters), params_after, loss_after. Then:

    refbp verify my-results/*.json --cases my-cases/

Each provided quantity is compared with torch autograd in float64, with central finite
differences of the torch reference's loss, and with the case's published values; what a
result does not provide is listed as "not provided", never passed. A wrong answer (a wrong
value or shape, NaN, an infinity, null) is a failed check naming the tensor. Options and
paths go in any order; a folder of results is searched for *.json.
Exit codes: 0 all passed, 1 a check failed, 2 bad input (a file that is not of the formats,
an unknown case id, an unknown field, two results for one case, no result found). An
inconclusive case is never counted as passed; it exits 0 unless --strict (then 1).
Ctrl-C reports the verdicts of the results judged so far and every bad input found (the
report's headline and environment.json say "interrupted"; nothing goes into the verdict
store) and exits 130.
The formats and their JSON Schemas: docs/formats.md, `refbp schema result`.
"""


def register(sub):
    p = any_order(
        sub.add_parser(
            "verify",
            help="verdicts for another implementation's results",
            description=HELP,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
    )
    p.add_argument(
        "results", nargs="+", metavar="RESULT", help="refbp-result/1 files, refbp-results/1 bundles, or folders of them"
    )
    p.add_argument(
        "--cases",
        action="append",
        metavar="PATH",
        help="a case file or folder (repeat for several; default: the installed suite)",
    )
    add_common_options(
        p,
        "how the finite-difference reference is computed (default: central differences; "
        "complex is refused: the torch reference has no complex-capable forward)",
        FD_METHODS,
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--require",
        choices=("given", "all"),
        default="given",
        help="given (default): judge what a result gives, a case without some of what it asks is "
        "PARTIAL; all: a quantity or tensor not provided fails its case",
    )
    add_ci_options(p)
    p.set_defaults(handler=handle)


def layer_results(paths) -> tuple[list, bool]:
    """(the layer result files under `paths`, whether anything else is there: a whole-network
    result, a path that is not found): refbp-layer-result/1 files are judged by refbp.layer.results,
    the rest by refbp.check.verify."""
    from pathlib import Path

    from refbp.cases.load import discover
    from refbp.layer.results import layer_result_files

    layered: list = []
    others = discover(paths, [], layer_files=layered)
    return layer_result_files(layered), bool(others) or any(not Path(p).exists() for p in paths)


def handle(args) -> int:
    from refbp.check.verify import UNSUPPORTED_FD_METHODS, verify_results

    try:
        oracles, jobs, executor = run_settings(args)
    except ValueError as exc:
        return fail_usage(str(exc))
    if args.fd_method in UNSUPPORTED_FD_METHODS:
        return fail_usage(f"--fd-method {args.fd_method}: {UNSUPPORTED_FD_METHODS[args.fd_method]}")
    layer_files, others = layer_results(args.results)
    if layer_files and not others:  # only layer answers: the whole-network cases are not loaded
        from .layer_option import layer_run

        run = layer_run("")
        run.searched = tuple(args.results)
    else:
        run = verify_results(
            args.results,
            args.cases,
            oracles=oracles,
            fd_method=args.fd_method,
            jobs=jobs,
            executor=executor,
            conventions=args.conventions,
            progress=False if args.no_progress else None,
            keep_interrupted=True,
        )
    if layer_files and not run.interrupted:
        from refbp.layer.results import verify_layer_results

        run.verdicts += verify_layer_results(layer_files, args.cases)
        run.implementation = ", ".join(sorted({v.implementation for v in run.verdicts if v.implementation}))
    if args.require == "all":  # a PARTIAL case fails (refbp.check.provided)
        from refbp.check.provided import require_all

        run.verdicts = [require_all(v) for v in run.verdicts]
    return finish_ci(run, args, "verify", lambda run: finish(run, args, "verify"))
