"""The explicit form of a case: every generated part expanded into numbers.

An implementation in another language reads this form and never has to reproduce refbp's
random generator.
"""

from __future__ import annotations

import json
from pathlib import Path

from .model import Case


def explicit_document(case: Case) -> dict:
    document = dict(case.document)
    document["params"] = {name: value.tolist() for name, value in case.params.items()}
    document["inputs"] = case.inputs.tolist()
    document["targets"] = case.targets.tolist()
    if case.h0 is not None:
        document["h0"] = case.h0.tolist()
    return document


def export_case(case: Case, directory) -> Path:
    """Write `<directory>/<id>.json` (the file stem must equal the id)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{case.id}.json"
    path.write_text(json.dumps(explicit_document(case), indent=1) + "\n")
    return path
