"""`refbp explain`: the chain-rule decomposition of one gradient entry."""

from __future__ import annotations

import argparse

from .usage import fail_usage

HELP = """\
Print how one gradient entry is built by the chain rule, with refbp's numbers, as the
seed article does: dE/dw5 = dE/dout_o1 x dout_o1/dnet_o1 x dnet_o1/dw5; for a hidden
weight, the paths through every unit of the next layer summed into dE/dout first.

CASE is a case file or the id of a case of the installed suite (e.g. seed-2-2-2).
NAME is an alias of the case (w5) or an entry such as layers.1.weight[0][0].
For an RNN case, --through-time prints ||dE/dh_t|| for every step t instead.
With --result RESULT (a refbp-result/1 file giving intermediates and error_signals), the
reference's factors are printed beside the implementation's, the first that differs marked.
"""


def register(sub):
    p = sub.add_parser(
        "explain",
        help="chain-rule decomposition of one gradient entry",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("case", metavar="CASE", help="case file, or the id of a shipped case")
    p.add_argument("--param", metavar="NAME", help="alias (w5) or entry (layers.1.weight[0][0])")
    p.add_argument(
        "--through-time",
        action="store_true",
        help="RNN: ||dE/dh_t|| for every step t (vanishing and exploding gradients)",
    )
    p.add_argument(
        "--result",
        metavar="RESULT",
        help="with --param: a result file with intermediates and error_signals, shown beside the reference",
    )
    p.set_defaults(handler=handle)


def find_case(text: str):
    """A case from a path, or by id from the installed suite."""
    from pathlib import Path

    from refbp.cases import SUITE_DIR, CaseError, discover, load_case

    path = Path(text)
    if path.exists():
        return load_case(path)
    for candidate in discover([SUITE_DIR]):
        if candidate.stem == text:
            return load_case(candidate)
    raise CaseError(text, "", "no such case file, and no case of the installed suite has this id")


def handle(args) -> int:
    from refbp.cases import CaseError
    from refbp.explain import explain

    if args.param is None and not args.through_time:
        return fail_usage("explain: give --param NAME (a gradient entry) or --through-time (an RNN case)")
    try:
        case = find_case(args.case)
        if args.through_time:
            from refbp.explain_rnn import explain_through_time

            print(explain_through_time(case))
        if args.param is not None and args.result is not None:
            from refbp.explain_result import explain_result

            print(explain_result(case, args.param, args.result))
        elif args.param is not None:
            print(explain(case, args.param))
    except CaseError as exc:
        return fail_usage(str(exc))
    except (KeyError, ValueError) as exc:
        option = f"--param {args.param}" if args.param is not None else "--through-time"
        return fail_usage(f"{args.case}: {option}: {exc.args[0]}")
    return 0
