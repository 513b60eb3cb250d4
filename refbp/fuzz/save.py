"""A failing example as a regression case: a `refbp-case/1` file ready for cases/regressions/.

Every number is explicit (nothing generated), the failing check is in its title, and its
source says how to draw it again (the fuzz command, seed and example index). `refbp run
FILE` (or `refbp check --impl ... FILE` for an implementation) checks it like any case.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import hypothesis

from .unit import ExampleOutcome


def regression_document(outcome: ExampleOutcome, command: str, original_index: int, shrunk: bool = True) -> dict:
    """The outcome's document with an id from its content, the failure as its title, and
    where it came from as its source (`shrunk`: by hypothesis, or as drawn)."""
    assert outcome.document is not None  # a failing example was drawn
    document = {k: v for k, v in outcome.document.items() if k not in ("id", "title", "source")}
    digest = hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:12]
    kind = document["network"]["kind"]
    return {
        "format": document.pop("format"),
        "id": f"fuzz-{kind}-{digest}",
        "title": f"found by refbp fuzz: {outcome.failure}",
        "source": (
            f"`{command}`, example {original_index}, shrunk by hypothesis {hypothesis.__version__}; "
            "the numbers are the shrunk example's, explicit"
            if shrunk
            else f"`{command}`, example {original_index}, as drawn (not shrunk); its numbers, explicit"
        ),
        **document,
        "tags": sorted(set(document.get("tags", [])) | {"regression"}),
    }


def save_regression(document: dict, directory) -> Path:
    """Write `<directory>/<id>.json` (the folder is made when missing)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{document['id']}.json"
    path.write_text(json.dumps(document, indent=1) + "\n")
    return path
