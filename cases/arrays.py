"""Nested JSON lists -> numpy arrays, with the field and both shapes named on a mismatch.

Also the walk that finds a number a case may not hold (a NaN or Infinity literal, a number
beyond float64) and names its field. Used by the case loader and the result reader.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from .dtypes import LARGEST
from .jsonio import CaseError, NonFiniteLiteral, kind_of
from .schema import field_name

# Entries of one array: a larger one is refused as an absurd size, before it is allocated.
MAX_ELEMENTS = 50_000_000
FLOAT32_MAX = float(np.finfo(np.float32).max)


def index_text(index: Iterable[Any]) -> str:
    return "".join(f"[{int(i)}]" for i in index)


def shape_of(value: Any) -> tuple[tuple[int, ...] | None, tuple[int, ...], str]:
    """(shape, index, problem): the shape of a rectangular nested list, else None with the
    index of the first entry that breaks it and what is wrong there."""
    if not isinstance(value, list):
        return (), (), ""
    if not value:
        return None, (), "is empty"
    rectangular = _numeric_shape(value)
    if rectangular is not None:
        return rectangular, (), ""
    shapes: list[tuple[int, ...]] = []
    for i, item in enumerate(value):
        sub, where, problem = shape_of(item)
        if sub is None:
            return None, (i,) + where, problem
        shapes.append(sub)
        if sub != shapes[0]:
            return None, (i,), f"ragged: shape {list(sub)} where {list(shapes[0])} came before"
    return (len(value),) + shapes[0], (), ""


def _numeric_shape(value: list[Any]) -> tuple[int, ...] | None:
    """The shape of a rectangular, non-empty nested list of numbers, found by numpy in one pass
    (a walk in Python costs a second per million entries); None for anything else (ragged,
    empty somewhere, another kind of entry), which the walk then names."""
    try:
        array = np.array(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        return None
    return array.shape if array.size else None


def to_array(
    value: Any,
    path: str | Path | None,
    field: str,
    shape: Iterable[int] | None = None,
    dtype: DTypeLike = np.float64,
) -> np.ndarray:
    """A nested list of numbers (the schema has checked the entries) -> an array of `shape`.

    Entries given as null (published values the source does not print) become NaN."""
    found, where, problem = shape_of(value)
    if found is None:
        raise CaseError(path, field + index_text(where), problem)
    if not found:
        raise CaseError(path, field, f"must be a list (an array), not {kind_of(value)}")
    size = math.prod(found)
    if size > MAX_ELEMENTS:
        raise CaseError(path, field, f"{size} entries is more than the limit of {MAX_ELEMENTS}")
    if shape is not None and tuple(found) != tuple(shape):
        raise CaseError(path, field, f"shape {list(found)} does not match the expected shape {list(shape)}")
    try:
        return np.array(value, dtype=dtype).reshape(found)
    except TypeError:  # a null entry
        return np.array(_nulls_to_nan(value), dtype=dtype).reshape(found)
    except OverflowError:  # a whole number beyond float64
        raise CaseError(path, field, "holds a number too large for float64") from None


def _nulls_to_nan(value: Any) -> Any:
    if isinstance(value, list):
        return [_nulls_to_nan(v) for v in value]
    return math.nan if value is None else value


def first_non_finite(node: Any, parts: tuple[Any, ...] = ()) -> tuple[str, str] | None:
    """(field, problem) of the first number a case may not hold, or None: a NaN or Infinity
    literal (JSON has neither) or a number that overflowed float64 while parsing (1e400).
    (A whole number beyond float64 is left to the schema's ranges and to `to_array`.)"""
    items: Iterable[tuple[Any, Any]]
    if isinstance(node, dict):
        items = node.items()
    elif isinstance(node, list):
        if _all_finite(node):  # a whole tensor at once, where numpy reads every entry as finite
            return None
        if all(type(x) is float for x in node) and not any(map(math.isinf, node)) and not any(map(math.isnan, node)):
            return None  # the common innermost list of a tensor, all finite
        items = enumerate(node)
    else:
        return _number_problem(node, parts)
    for key, value in items:
        found = first_non_finite(value, parts + (key,))
        if found is not None:
            return found
    return None


def _all_finite(node: list[Any]) -> bool:
    try:
        return bool(np.isfinite(np.array(node, dtype=np.float64)).all())
    except (TypeError, ValueError, OverflowError):
        return False


def _number_problem(value: Any, parts: tuple[Any, ...]) -> tuple[str, str] | None:
    if isinstance(value, NonFiniteLiteral):
        return field_name(parts), f"{value.name} is not allowed in a case (JSON has no NaN or Infinity)"
    if isinstance(value, float) and not math.isfinite(value):
        return field_name(parts), "a number too large for float64"
    return None


def check_float32(array: np.ndarray, path: str | Path | None, field: str, dtype: str = "float32") -> None:
    """A float32 (float16, bfloat16) case: every value must fit the dtype (else the implementation
    sees an infinity)."""
    over = np.abs(array) > LARGEST[dtype]
    if over.any():
        where = np.unravel_index(int(np.argmax(over)), array.shape)
        raise CaseError(
            path,
            field + index_text(where),
            f"{array[where]:g} overflows {dtype}, the case's dtype (largest {LARGEST[dtype]:.4g})",
        )
