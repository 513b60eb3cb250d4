"""The explicit form of a case: every generated part expanded into numbers.

An implementation in another language reads this form and never has to reproduce refbp's
random generator. `export_cases` writes the case schema beside the cases, so that the
folder says what its files are.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .jsonio import CaseError
from .model import Case
from .schema import schema_document, schema_file


def explicit_document(case: Case) -> dict[str, Any]:
    document = dict(case.document)
    document["params"] = {name: value.tolist() for name, value in case.params.items()}
    document["inputs"] = case.inputs.tolist()
    document["targets"] = case.targets.tolist()
    if case.h0 is not None:
        document["h0"] = case.h0.tolist()
    return document


def export_directory(directory: str | Path) -> Path:
    """Make the export folder (a CaseError if it is a file or cannot be made), and write the
    case schema into it (`refbp-case-1.schema.json`: a `*.schema.json` is never read as a case)."""
    folder = Path(directory)
    if folder.exists() and not folder.is_dir():
        raise CaseError(folder, "", "is a file, not a folder: cannot export cases into it")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / schema_file("case").name).write_text(json.dumps(schema_document("case"), indent=1) + "\n")
    except OSError as exc:
        raise CaseError(folder, "", f"cannot write into this folder: {exc.strerror or exc}") from None
    return folder


def export_case(case: Case, directory: str | Path) -> Path:
    """Write `<directory>/<id>.json` (the file stem must equal the id)."""
    path = Path(directory) / f"{case.id}.json"
    path.write_text(json.dumps(explicit_document(case), indent=1) + "\n")
    return path
