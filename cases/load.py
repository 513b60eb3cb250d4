"""Loading `refbp-case/1` documents: the schema for structure, then the rules across fields.

The JSON Schema (`cases/schemas/refbp-case-1.schema.json`) checks fields, types, names and
ranges; refbp.cases.case_parser checks what a schema cannot: shapes from the network, class
ranges, the id equal to the file name, frozen names, limits on sizes (before anything is
allocated) and the dtype's range. Every problem is a `CaseError` naming file, field and problem.
Finding the case files under folders is refbp.cases.discovery's (re-exported here).
Nothing here imports torch or refbp.nn: the suite's data must not depend on the code it checks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .case_parser import FORMAT as FORMAT
from .case_parser import MAX_BATCH as MAX_BATCH
from .case_parser import MAX_PARAMS as MAX_PARAMS
from .case_parser import MAX_TIME_STEPS as MAX_TIME_STEPS
from .case_parser import CaseParser
from .discovery import SCHEMA_SUFFIX as SCHEMA_SUFFIX
from .discovery import discover as discover
from .jsonio import read_json
from .layer_case import LayerCase, layer_format, load_layer_case
from .model import Case


def load_any(path: str | Path) -> Case | LayerCase:
    """A case file read by its `format`: a layer case (refbp.cases.layer_case) or a whole network."""
    path = Path(path)
    return load_layer_case(path) if layer_format(path) else load_case(path)


def load_case(path: str | Path) -> Case:
    path = Path(path)
    return parse_case(read_json(path), path)


def parse_case(document: Any, path: str | Path | None = None) -> Case:
    """Validate a case document (a dict) and expand its generated parts."""
    return CaseParser(path).parse(document)
