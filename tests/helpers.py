"""Small helpers shared by the tests (importable: pytest puts tests/ on sys.path)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from refbp.check import check_case


def write_case(folder: Path, document: dict, name: str | None = None) -> Path:
    path = Path(folder) / f"{name or document['id']}.json"
    path.write_text(json.dumps(document))
    return path


def failed_rows(verdict, reference: str | None = None, quantity: str | None = None):
    return [
        c
        for c in verdict.checks
        if not c.passed
        and (reference is None or c.reference == reference)
        and (quantity is None or c.quantity == quantity)
    ]


def diagnoses(
    verdict, quantity: str | None = None, tensor: str | None = None, reference: str = "torch-autograd"
) -> set[str]:
    """The diagnosis ids of the failed rows of one reference (and quantity, tensor)."""
    return {c.diagnosis for c in failed_rows(verdict, reference, quantity) if tensor is None or c.tensor == tensor}


def check(case, oracles=("torch", "fd", "expected")):
    return check_case(case, oracles=oracles)


def as_float32(case):
    """The same case in float32: every number rounded to float32 (so that the float64
    references see exactly the numbers the float32 implementation sees), same id and path."""

    def rounded(array):
        return None if array is None or array.dtype.kind != "f" else array.astype(np.float32).astype(np.float64)

    params = {name: rounded(value) for name, value in case.params.items()}
    document = dict(case.document, dtype="float32") if case.document else {}
    return dataclasses.replace(
        case,
        dtype="float32",
        params=params,
        inputs=rounded(case.inputs),
        targets=case.targets if case.class_targets else rounded(case.targets),
        h0=rounded(case.h0),
        document=document,
    )
