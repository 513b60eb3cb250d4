"""`refbp cases export|list`."""

from __future__ import annotations

import argparse
import sys

HELP = """\
export: write every case (default: the installed suite) in the explicit form, one file
each, with generated parameters and data expanded into numbers, so that an implementation
in another language never reproduces refbp's random generator.
list: one line per case (id, network, loss, dtype, file).
"""


def register(sub):
    p = sub.add_parser("cases", help="export or list the cases", description=HELP,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    export = verbs.add_parser("export", help="write the explicit form of each case into DIR")
    export.add_argument("directory", metavar="DIR")
    export.add_argument("paths", nargs="*", metavar="PATH", help="case files or folders (default: the installed suite)")
    export.set_defaults(handler=handle_export)
    listing = verbs.add_parser("list", help="list the cases")
    listing.add_argument("paths", nargs="*", metavar="PATH")
    listing.set_defaults(handler=handle_list)
    p.set_defaults(handler=lambda args: (p.print_help(sys.stderr), 2)[1])


def _for_each_case(paths, action) -> int:
    """`action(case)` for each loadable case; a bad file is reported on stderr (exit 2), the rest go on."""
    from cases import CaseError, load_case
    from refbp.check.suite import case_files

    code = 0
    for path in case_files(paths or None):
        try:
            case = load_case(path)
        except CaseError as exc:
            print(exc, file=sys.stderr)
            code = 2
            continue
        action(case)
    return code


def handle_export(args) -> int:
    from cases.export import export_case

    return _for_each_case(args.paths, lambda case: print(export_case(case, args.directory)))


def handle_list(args) -> int:
    return _for_each_case(args.paths, lambda case: print(
        f"{case.id:<36} {case.network.describe():<28} {case.loss:<14} {case.dtype:<8} {case.path}"))
