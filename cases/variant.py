"""A variant of a case for one student (`refbp cases variant --seed S`): new numbers, the same
question.

Everything that makes the case the case it is stays: the network, the loss, the shapes, the
training settings, the tolerance, the aliases, and the numbers' character. A generated part
(`{"init": ...}`, `{"random": ...}`) is drawn again from a new seed of its own generator. An
explicit number is multiplied by a factor drawn in [1/2, 3/2] (rounded to 6 significant
digits): its sign and magnitude stay, an exact zero stays zero (a zero weight row keeps its
units exactly at the kink, a saturated output stays saturated, a tiny value near a kink stays
near it; a net that is zero only because its terms cancel moves off the kink by little). Targets
keep their kind: class indices are drawn again in [0, C), probability rows are rescaled and
normalised again (zeros stay), bce targets stay in [0, 1] (0 and 1 stay).
The published `expected` values belong to the original numbers, so a variant drops them: the
torch and finite-difference references judge it.

The same seed and case always give the same variant (the stream is seeded by the seed and the
case id), so a grader regenerates a student's variant from the seed alone.
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any

import numpy as np

from .export import explicit_document
from .load import parse_case
from .model import Case

MAX_SEED = 2**63 - 1
DIGITS = 6


def stream(seed: int, case_id: str) -> np.random.Generator:
    """The variant's random stream: one per (seed, case id)."""
    digest = int.from_bytes(hashlib.sha256(case_id.encode()).digest()[:8], "big")
    return np.random.default_rng([int(seed), digest])


def scaled(values: Any, rng: np.random.Generator) -> np.ndarray:
    """Each entry times a factor in [1/2, 3/2], rounded to DIGITS significant digits (0 stays 0)."""
    array = np.asarray(values, dtype=np.float64)
    moved = array * rng.uniform(0.5, 1.5, array.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        exponent = np.where(moved == 0, 0, np.floor(np.log10(np.abs(moved))))
    unit = 10.0 ** (exponent - (DIGITS - 1))
    return np.where(moved == 0, 0.0, np.round(moved / unit) * unit)


def _targets(case: Case, rng: np.random.Generator) -> Any:  # nested lists, as JSON holds them
    targets = np.asarray(case.targets)
    if np.issubdtype(targets.dtype, np.integer):  # class indices
        classes = case.network.sizes[-1] if case.network.kind == "mlp" else case.network.output_size
        return rng.integers(0, classes, targets.shape).tolist()
    if case.loss == "cross_entropy":  # probability rows: rescaled, normalised again
        rows = scaled(targets, rng)
        return (rows / rows.sum(axis=-1, keepdims=True)).tolist()
    if case.loss == "bce":
        hard = (targets == 0.0) | (targets == 1.0)
        return np.where(hard, targets, np.clip(scaled(targets, rng), 0.0, 1.0)).tolist()
    return scaled(targets, rng).tolist()


def variant_document(case: Case, seed: int) -> dict[str, Any]:
    """The variant's document, generated parts with new seeds and explicit numbers moved."""
    if not 0 <= int(seed) <= MAX_SEED:
        raise ValueError(f"--seed {seed}: must be in [0, 2^63 - 1]")
    rng = stream(seed, case.id)
    document = copy.deepcopy(case.document)
    document.pop("expected", None)
    original = explicit_document(case)
    for field in ("params", "inputs", "targets"):
        given = document[field]
        generator = next((key for key in ("init", "random") if isinstance(given, dict) and key in given), None)
        if generator is not None:  # drawn again by its own generator, from a new seed
            given[generator]["seed"] = int(rng.integers(0, MAX_SEED))
        elif field == "params":
            document[field] = {name: scaled(value, rng).tolist() for name, value in original["params"].items()}
        elif field == "inputs":
            document[field] = scaled(original["inputs"], rng).tolist()
        else:
            document[field] = _targets(case, rng)
    if document.get("h0") is not None:
        document["h0"] = scaled(original["h0"], rng).tolist()
    document["title"] = f"{case.title or case.id} (variant, seed {seed})"
    document["source"] = (
        f"refbp cases variant --seed {seed} of the case {case.id}: the same network, shapes and "
        f"settings, new numbers; published values dropped"
    )
    document["tags"] = list(dict.fromkeys([*case.tags, "variant"]))
    return document


def variant_case(case: Case, seed: int) -> Case:
    """The variant as a Case, checked as any case file is (a CaseError if it is not one)."""
    return parse_case(variant_document(case, seed), case.path)
