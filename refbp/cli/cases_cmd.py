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
list: one line per case (id, network, loss, dtype, file; a layer case: id, layer FUNCTION,
its weights' layout and batch).
Layer cases (refbp-layer-case/1, docs/formats.md section 12) are listed and exported beside
the whole networks, their schema (refbp-layer-case-1.schema.json) written beside them.
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
    """`action(case)` for each case found once, whole networks then layer cases (refbp-layer-case/1);
    a bad file is reported on stderr (exit 2), the rest go on. `before(cases)`: asked once every
    case is loaded and before any action, an exit code stops it all."""
    from refbp.check.suite import load_cases
    from refbp.check.verdict import CaseVerdict
    from refbp.layer.cases import find_layer_cases

    loaded = load_cases(paths or None)
    layered = find_layer_cases(paths or None)
    for note in loaded.notes:
        print(f"refbp: note: {note}", file=sys.stderr)
    for item in [*loaded.items, *layered.bad]:
        if isinstance(item, CaseVerdict):
            print(*item.errors, sep="\n", file=sys.stderr)
    cases = [*loaded.cases, *layered.cases]
    stop = before(cases) if before is not None else None
    if stop is not None:
        return stop
    for case in cases:
        action(case)
    if not loaded.items and not layered.cases and not layered.bad:
        print(
            f"refbp: error: nothing found: no case file in {', '.join(paths or ['the installed suite'])}",
            file=sys.stderr,
        )
        return 2
    return 2 if loaded.bad or layered.bad else 0


def handle_export(args) -> int:
    from pathlib import Path

    from refbp.cases import CaseError
    from refbp.cases.export import export_case, export_directory
    from refbp.cases.layer_case import LayerCase, export_layer_case, write_schema
    from refbp.cases.schema import schema_document, schema_file

    from .usage import os_problem

    target = Path(args.directory)
    if target.exists() and not target.is_dir():  # before any case is read
        return fail_usage(str(CaseError(target, "", "is a file, not a folder: cannot export cases into it")))
    made: list = []

    def ready(cases):
        """None when DIR may take the cases (made, with the schemas), else the exit code (2)."""
        schemas = ["case"] + (["layer-case"] if any(isinstance(c, LayerCase) for c in cases) else [])
        clashes = [target / f"{case.id}.json" for case in cases if (target / f"{case.id}.json").exists()]
        for name in schemas:  # refbp's own schema: rewritten
            schema = target / schema_file(name).name
            if schema.exists() and _document_in(schema) != schema_document(name):
                clashes.append(schema)
        if clashes and not args.force:
            more = f" (and {len(clashes) - 1} more)" if len(clashes) > 1 else ""
            return fail_usage(
                f"{clashes[0]}: already exists{more}: not overwritten, nothing exported (--force overwrites)"
            )
        try:
            made.append(export_directory(target))
            if len(schemas) > 1:
                write_schema(target, "layer-case")
        except CaseError as exc:
            return fail_usage(str(exc))
        return None

    def write(case):
        try:
            print(export_layer_case(case, made[0]) if isinstance(case, LayerCase) else export_case(case, made[0]))
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
    def line(case) -> str:
        if hasattr(case, "function"):  # a layer case: its function, weights' layout, batch
            return (
                f"{case.id:<36} {'layer ' + case.function:<28} {case.layout + ' b' + str(case.batch):<14} "
                f"{'float64':<8} {case.path}"
            )
        return f"{case.id:<36} {case.network.describe():<28} {case.loss:<14} {case.dtype:<8} {case.path}"

    return _for_each_case(args.paths, lambda case: print(line(case)))
