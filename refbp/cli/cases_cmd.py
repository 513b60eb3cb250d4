"""`refbp cases export|list`."""

from __future__ import annotations

import argparse
import json
import sys

from .outcome import any_order
from .usage import fail_usage
from .variant_cmd import register_variant

HELP = """\
export: write every case (default: the installed suite) in the explicit form, one file
each, with generated parameters and data expanded into numbers, so that an implementation
in another language never reproduces refbp's random generator; the case schema
(refbp-case-1.schema.json) is written beside them. DIR must be a folder or not exist yet.
A case file already in DIR is never overwritten: the export is refused before anything is
written, naming the file (exit 2), unless --force.
list: one line per case (id, network, loss, dtype, file).
A bad case file is reported on stderr in one line (file, field, problem) and the others
go on (exit 2).
"""


def register(sub):
    p = sub.add_parser(
        "cases",
        help="export, list or vary the cases",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    export = any_order(verbs.add_parser("export", help="write the explicit form of each case into DIR"))
    export.add_argument("directory", metavar="DIR")
    export.add_argument("paths", nargs="*", metavar="PATH", help="case files or folders (default: the installed suite)")
    export.add_argument("--force", action="store_true", help="overwrite the files of DIR that have a case's name")
    export.set_defaults(handler=handle_export)
    listing = any_order(verbs.add_parser("list", help="list the cases"))
    listing.add_argument("paths", nargs="*", metavar="PATH")
    listing.set_defaults(handler=handle_list)
    register_variant(verbs)
    p.set_defaults(handler=lambda args: (p.print_help(sys.stderr), 2)[1])


def _for_each_case(paths, action, before=None) -> int:
    """`action(case)` for each case found once; a bad file is reported on stderr (exit 2), the rest go on.
    `before(cases)`: asked once every case is loaded and before any action, an exit code stops it all."""
    from refbp.check.suite import load_cases
    from refbp.check.verdict import CaseVerdict

    loaded = load_cases(paths or None)
    for note in loaded.notes:
        print(f"refbp: note: {note}", file=sys.stderr)
    for item in loaded.items:
        if isinstance(item, CaseVerdict):
            print(*item.errors, sep="\n", file=sys.stderr)
    stop = before(loaded.cases) if before is not None else None
    if stop is not None:
        return stop
    for case in loaded.cases:
        action(case)
    if not loaded.items:
        print(
            f"refbp: error: nothing found: no case file in {', '.join(paths or ['the installed suite'])}",
            file=sys.stderr,
        )
    return 2 if loaded.bad or not loaded.items else 0


def handle_export(args) -> int:
    from pathlib import Path

    from refbp.cases import CaseError
    from refbp.cases.export import export_case, export_directory
    from refbp.cases.schema import schema_document, schema_file

    from .usage import os_problem

    target = Path(args.directory)
    if target.exists() and not target.is_dir():  # before any case is read
        return fail_usage(str(CaseError(target, "", "is a file, not a folder: cannot export cases into it")))
    made: list = []

    def ready(cases):
        """None when DIR may take the cases (made, with the schema), else the exit code (2)."""
        schema = target / schema_file("case").name
        clashes = [target / f"{case.id}.json" for case in cases if (target / f"{case.id}.json").exists()]
        if schema.exists() and _document_in(schema) != schema_document("case"):  # refbp's own schema: rewritten
            clashes.append(schema)
        if clashes and not args.force:
            more = f" (and {len(clashes) - 1} more)" if len(clashes) > 1 else ""
            return fail_usage(
                f"{clashes[0]}: already exists{more}: not overwritten, nothing exported (--force overwrites)"
            )
        try:
            made.append(export_directory(target))
        except CaseError as exc:
            return fail_usage(str(exc))
        return None

    def write(case):
        try:
            print(export_case(case, made[0]))
        except OSError as exc:
            raise CaseError(target / f"{case.id}.json", "", f"cannot write: {os_problem(exc)}") from None

    try:
        return _for_each_case(args.paths, write, before=ready)
    except CaseError as exc:  # the folder refused a file after all: the files printed so far are written
        return fail_usage(str(exc))


def _document_in(path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def handle_list(args) -> int:
    return _for_each_case(
        args.paths,
        lambda case: print(f"{case.id:<36} {case.network.describe():<28} {case.loss:<14} {case.dtype:<8} {case.path}"),
    )
