"""Hypothesis strategies for single numbers and arrays: the named value ranges, the dtypes, and
numbers exactly representable in a dtype (refbp.testing.strategies draws whole cases from them)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from refbp.cases.dtypes import numpy_dtype, rounded

# Magnitudes (smallest, largest) of each named range; values take either sign, and 0.
VALUE_RANGES: dict[str, tuple[float, float]] = {
    # Order one. Never so small that a product underflows float32 (where float32 rounds a
    # net of 1e-50 to 0 and float64 does not, a relu's slope differs: no bug, no check).
    "ordinary": (1e-3, 1.0),
    # Saturates sigmoid and tanh, overflows a naive exp (e^1000): stable forms are needed.
    # In float32 the rounding of sums of such terms outgrows the float32 tolerances, and a
    # few training steps may overflow: a test of stability in float64, without training.
    "large": (10.0, 1000.0),
    # Squares and products underflow float32; a relative error has nothing to hide behind.
    "tiny": (1e-30, 1e-8),
    # Within a finite-difference step of the relu family's kink at 0.
    "near_kink": (1e-12, 1e-6),
}

# The float widths hypothesis draws exactly (bfloat16: float32's, then rounded).
FLOAT_WIDTH: dict[str, Literal[16, 32, 64]] = {"float32": 32, "float16": 16, "bfloat16": 32}


def dtypes(allowed: Sequence[str] = ("float64", "float32")) -> st.SearchStrategy[str]:
    """A dtype name a case may ask for (default `float64`, `float32`: every value range holds
    numbers of theirs; float16 and bfloat16, of names.DTYPES, are drawn where asked for, with
    "ordinary" values: refbp.fuzz.space)."""
    return st.sampled_from(tuple(allowed))


def value_ranges(allowed: Sequence[str] = tuple(VALUE_RANGES)) -> st.SearchStrategy[str]:
    """The name of a range of `VALUE_RANGES`."""
    return st.sampled_from(tuple(allowed))


def values(kind: str | tuple[float, float] = "ordinary", *, dtype: str = "float64") -> st.SearchStrategy[float]:
    """0, or a number of either sign whose magnitude lies in `kind` (a name of `VALUE_RANGES`
    or a (smallest, largest) pair), exactly representable in `dtype`. Shrinks towards 0."""
    low, high = _inward(*(VALUE_RANGES[kind] if isinstance(kind, str) else kind), dtype)
    magnitude = st.floats(low, high, width=FLOAT_WIDTH.get(dtype, 64), allow_subnormal=False)
    if dtype == "bfloat16":  # hypothesis has no bfloat16: float32 numbers rounded to it (within [low, high])
        magnitude = magnitude.map(lambda x: float(rounded(np.array([x]), "bfloat16")[0]))
    return st.one_of(st.just(0.0), magnitude, magnitude.map(lambda x: -x))


def arrays(
    shape: tuple[int, ...], *, values: str | tuple[float, float] = "ordinary", dtype: str = "float64"
) -> st.SearchStrategy[np.ndarray]:
    """A numpy array of `shape` and `dtype`, every entry drawn by itself from `values(values)`
    (no fill value: equal entries would hide a transposed gradient)."""
    array_dtype = np.dtype("float64" if dtype == "bfloat16" else dtype)  # bfloat16's numbers as float64
    return hnp.arrays(array_dtype, shape, elements=_values(values, dtype=dtype), fill=st.nothing())


_values = values


def _inward(low: float, high: float, dtype: str) -> tuple[float, float]:
    """The range's bounds rounded inwards to numbers of `dtype` (hypothesis wants them exact)."""
    kind = numpy_dtype(dtype).type
    low_r, high_r = kind(low), kind(high)
    if float(low_r) < low:
        low_r = np.nextafter(low_r, kind(np.inf))
    if float(high_r) > high:
        high_r = np.nextafter(high_r, kind(0))
    return float(low_r), float(high_r)
