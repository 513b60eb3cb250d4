"""`refbp cases export|list`."""

from __future__ import annotations

import argparse
import sys

from .outcome import any_order
from .usage import fail_usage

HELP = """\
export: write every case (default: the installed suite) in the explicit form, one file
each, with generated parameters and data expanded into numbers, so that an implementation
in another language never reproduces refbp's random generator; the case schema
(refbp-case-1.schema.json) is written beside them. DIR must be a folder or not exist yet.
list: one line per case (id, network, loss, dtype, file).
A bad case file is reported on stderr in one line (file, field, problem) and the others
go on (exit 2).
"""


def register(sub):
    p = sub.add_parser("cases", help="export or list the cases", description=HELP,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    export = any_order(verbs.add_parser("export", help="write the explicit form of each case into DIR"))
    export.add_argument("directory", metavar="DIR")
    export.add_argument("paths", nargs="*", metavar="PATH", help="case files or folders (default: the installed suite)")
    export.set_defaults(handler=handle_export)
    listing = any_order(verbs.add_parser("list", help="list the cases"))
    listing.add_argument("paths", nargs="*", metavar="PATH")
    listing.set_defaults(handler=handle_list)
    p.set_defaults(handler=lambda args: (p.print_help(sys.stderr), 2)[1])


def _for_each_case(paths, action) -> int:
    """`action(case)` for each case found once; a bad file is reported on stderr (exit 2), the rest go on."""
    from refbp.check.suite import load_cases
    from refbp.check.verdict import CaseVerdict

    loaded = load_cases(paths or None)
    for note in loaded.notes:
        print(f"refbp: note: {note}", file=sys.stderr)
    for item in loaded.items:
        if isinstance(item, CaseVerdict):
            print(*item.errors, sep="\n", file=sys.stderr)
        else:
            action(item)
    if not loaded.items:
        print(f"refbp: error: nothing found: no case file in {', '.join(paths or ['the installed suite'])}", file=sys.stderr)
    return 2 if loaded.bad or not loaded.items else 0


def handle_export(args) -> int:
    from cases import CaseError
    from cases.export import export_case, export_directory


    try:
        directory = export_directory(args.directory)
    except CaseError as exc:
        return fail_usage(str(exc))
    return _for_each_case(args.paths, lambda case: print(export_case(case, directory)))


def handle_list(args) -> int:
    return _for_each_case(args.paths, lambda case: print(
        f"{case.id:<36} {case.network.describe():<28} {case.loss:<14} {case.dtype:<8} {case.path}"))
