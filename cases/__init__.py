"""The conformance suite: case files (`cases/<group>/<id>.json`), their loader and the schemas.

This package ships with refbp, so the suite is found from any working directory:
`SUITE_DIR` is the folder of the installed case files, `cases/schemas/` holds the JSON
Schemas of the formats (`refbp schema NAME` prints one).
"""

from pathlib import Path

from .jsonio import CaseError, read_json
from .load import discover, load_case, parse_case
from .model import (
    Case,
    Expected,
    MLPNetwork,
    RNNNetwork,
    Tolerance,
    Train,
    format_entry,
    parse_entry,
)

SUITE_DIR = Path(__file__).resolve().parent

__all__ = [
    "SUITE_DIR",
    "Case",
    "CaseError",
    "Expected",
    "MLPNetwork",
    "RNNNetwork",
    "Tolerance",
    "Train",
    "discover",
    "format_entry",
    "load_case",
    "parse_case",
    "parse_entry",
    "read_json",
]
