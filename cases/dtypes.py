"""The dtypes a case may be computed in, as numpy dtypes, and a case's numbers rounded to one.

float16 is numpy's own; bfloat16 is ml_dtypes' (the numpy extension JAX and TensorFlow use).
Rounding goes straight from float64 to the dtype (round to nearest, ties to even), as
`numpy.ndarray.astype` does, so the numbers an implementation is given and those of a reference at
that precision are the same numbers.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, overload

import ml_dtypes  # bfloat16 as a numpy dtype (a dependency of refbp: pyproject.toml)
import numpy as np

if TYPE_CHECKING:
    from .model import Case

# Each dtype's largest finite value: a number beyond it would reach the implementation as an
# infinity, so a case of that dtype refuses it (refbp.cases.load).
LARGEST = {
    "float64": float(np.finfo(np.float64).max),
    "float32": float(np.finfo(np.float32).max),
    "float16": float(np.finfo(np.float16).max),
    "bfloat16": 3.3895313892515355e38,
}
# The spacing of the dtype's numbers at 1 (2^-52, 2^-23, 2^-10, 2^-7).
EPSILON = {"float64": 2.0**-52, "float32": 2.0**-23, "float16": 2.0**-10, "bfloat16": 2.0**-7}
# The smallest positive normal number of each (below it, spacing no longer shrinks).
SMALLEST_NORMAL = {
    "float64": float(np.finfo(np.float64).tiny),
    "float32": float(np.finfo(np.float32).tiny),
    "float16": float(np.finfo(np.float16).tiny),
    "bfloat16": float(np.finfo(np.float32).tiny),
}
LOW_PRECISION = ("float32", "float16", "bfloat16")


def numpy_dtype(name: str) -> np.dtype[Any]:
    """The numpy dtype of `name` (bfloat16: ml_dtypes.bfloat16)."""
    if name == "bfloat16":
        bfloat16: np.dtype[Any] = np.dtype(ml_dtypes.bfloat16)
        return bfloat16
    if name not in LARGEST:
        raise ValueError(f"unknown dtype {name!r} (known: {', '.join(LARGEST)})")
    return np.dtype(name)


def carrier(name: str) -> np.dtype[Any]:
    """The numpy dtype a case's arrays travel in to an implementation (refbp.check.adapter): the
    dtype itself, except bfloat16, whose numbers travel in float32 (every bfloat16 number is one;
    numpy has no bfloat16 of its own, and torch.as_tensor takes no ml_dtypes array): the
    implementation computes in bfloat16 itself (ml_dtypes.bfloat16, torch.bfloat16)."""
    return np.dtype(np.float32) if name == "bfloat16" else numpy_dtype(name)


@overload
def rounded(array: np.ndarray, name: str) -> np.ndarray: ...
@overload
def rounded(array: None, name: str) -> None: ...
def rounded(array: np.ndarray | None, name: str) -> np.ndarray | None:
    """`array` (float64) rounded to dtype `name` and back to float64; integers (class indices) and
    None unchanged."""
    if array is None or array.dtype.kind != "f" or name == "float64":
        return array
    return np.asarray(array, dtype=np.float64).astype(numpy_dtype(name)).astype(np.float64)


def at_dtype(case: Case, dtype: str) -> Case:
    """`case` with every number rounded to `dtype` (class indices unchanged) and its dtype set: the
    float64 references then judge exactly the numbers an implementation at that dtype is given
    (`refbp check --dtype`, and the reference at that precision, refbp.oracle.same_precision)."""
    if dtype == case.dtype == "float64":
        return case
    params = {name: rounded(value, dtype) for name, value in case.params.items()}
    document = dict(case.document, dtype=dtype) if case.document else {}
    return dataclasses.replace(
        case,
        dtype=dtype,
        params=params,
        inputs=rounded(case.inputs, dtype),
        targets=rounded(case.targets, dtype),
        h0=rounded(case.h0, dtype),
        document=document,
    )
