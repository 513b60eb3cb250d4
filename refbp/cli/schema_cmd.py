"""`refbp schema NAME`: print the JSON Schema (draft 2020-12) of one of the formats."""

from __future__ import annotations

import argparse
import json
import os
import sys

from refbp.cases.schema import SCHEMAS, schema_document

HELP = """\
Print the JSON Schema (draft 2020-12) of a format, so that a program in any language can
validate a case, a result or a verdict before refbp reads it:

    refbp schema case > refbp-case-1.schema.json

case: refbp-case/1; result: refbp-result/1; results: refbp-results/1 (a bundle of results);
verdict: refbp-verdict/1. The schema checks the structure; the rules across fields (shapes
from the network, class ranges, the id equal to the file name, ...) are in docs/formats.md.
"""


def register(sub):
    p = sub.add_parser(
        "schema",
        help="print the JSON Schema of a format",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("name", choices=tuple(SCHEMAS), metavar="NAME", help=f"one of: {', '.join(SCHEMAS)}")
    p.set_defaults(handler=handle)


def handle(args) -> int:
    try:
        print(json.dumps(schema_document(args.name), indent=1), flush=True)
    except BrokenPipeError:  # `refbp schema case | head`: the reader stopped early, which is fine
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0
