"""The conformance suite: case files (`cases/<group>/<id>.json`) and their loader.

This package ships with refbp, so the suite is found from any working directory:
`SUITE_DIR` is the folder of the installed case files.
"""

from pathlib import Path

from .load import CaseError, discover, load_case, parse_case, read_json
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
    "SUITE_DIR", "Case", "CaseError", "Expected", "MLPNetwork", "RNNNetwork", "Tolerance",
    "Train", "discover", "format_entry", "load_case", "parse_case", "parse_entry", "read_json",
]
