"""`refbp cases variant DIR --seed S [PATH ...]`: each case with new numbers, for one student."""

from __future__ import annotations

import argparse
import sys

from .outcome import any_order
from .usage import fail_usage

HELP = """\
Write a variant of every case (default: the installed suite) into DIR, in the explicit form
(as `refbp cases export` writes it): the same network, loss, shapes, training settings,
tolerance and aliases, with new parameters and data. Generated parts are drawn again from a
new seed; explicit numbers are each multiplied by a factor in [1/2, 3/2], so signs,
magnitudes and exact zeros stay (units at a kink stay at it, saturated outputs stay
saturated). Class targets are drawn again, probability targets normalised again, bce
targets stay in [0, 1]. Published values (`expected`) are dropped: they belong to the
original numbers; torch and finite differences judge a variant.

The same --seed always gives the same variant (one per student: `refbp grade --seed S`
regenerates it). The case ids stay, so a student's results name the cases as usual.
A case file already in DIR is never overwritten (exit 2) unless --force.
"""


def register_variant(verbs) -> None:
    """The `variant` verb of `refbp cases` (refbp.cli.cases_cmd)."""
    p = any_order(
        verbs.add_parser(
            "variant",
            help="write each case with new numbers (one variant per seed)",
            description=HELP,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
    )
    p.add_argument("directory", metavar="DIR")
    p.add_argument("paths", nargs="*", metavar="PATH", help="case files or folders (default: the installed suite)")
    p.add_argument("--seed", type=int, required=True, help="the variant's seed, in [0, 2^63 - 1]")
    p.add_argument("--force", action="store_true", help="overwrite the files of DIR that have a case's name")
    p.set_defaults(handler=handle_variant)


def handle_variant(args) -> int:
    from refbp.grade.variants import VariantError, write_variants

    try:
        written, problems = write_variants(args.paths or None, args.seed, args.directory, force=args.force)
    except VariantError as exc:
        return fail_usage(str(exc))
    for path in written:
        print(path)
    for problem in problems:
        print(problem, file=sys.stderr)
    return 2 if problems else 0
