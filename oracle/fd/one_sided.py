"""Where a finite difference is blind: a kink, a clamp or a jump of the loss inside its stencil.

A central (or Richardson) difference averages the slopes on both sides of the point. Where the
loss is smooth on the stencil, the one-sided derivatives from the right and from the left,
each extrapolated to O(h^2) (2 D(h) - D(2h)), agree to higher order than either's error: their
O(h^2) terms are the same (f''' h^2 / 3 on both sides). Where they disagree by more than the
tolerance and their rounding, something non-smooth lies within reach (a relu unit crossing
0, bce's log reaching its clamp, an output rounding to exactly 1), and no finite difference
over that span can judge the entry: it is reported as such, never passed or failed by it.

A wrong gradient on a smooth loss leaves both one-sided derivatives equal to the true one,
so its entries keep failing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .steps import loss_rounding

# One-sided derivatives are compared over the widest stencil of the methods (Richardson: 4h).
SPAN = 4.0
# Rounding of 2 D(h) - D(2h) from each side: (2 * 2 + 2 / 2) delta / h; their difference twice that,
# with the same factor of safety as the methods' own error estimates (refbp.check.tolerance).
ROUNDING_FACTOR = 10.0 * 4.0


def one_sided(along: Callable[[float], Any], base: float, step: float) -> tuple[float, float, float]:
    """(right derivative, left derivative, the rounding of their difference) of t -> along(t) at 0,
    over [-SPAN step, SPAN step]; `along(t)` is the loss at the point moved by t."""
    h = SPAN * step / 2.0
    f = {t: float(along(t)) for t in (h, 2 * h, -h, -2 * h)}
    right = 2.0 * (f[h] - base) / h - (f[2 * h] - base) / (2 * h)
    left = 2.0 * (base - f[-h]) / h - (base - f[-2 * h]) / (2 * h)
    return right, left, ROUNDING_FACTOR * loss_rounding(base) / h


def disagree(right: float, left: float, rounding: float, atol: float, rtol: float) -> bool:
    """The two sides differ beyond what a smooth loss, its rounding and the tolerance allow
    (a non-finite side is a clamp or a jump too)."""
    if not (np.isfinite(right) and np.isfinite(left)):
        return True
    return abs(right - left) > atol + rtol * max(abs(right), abs(left)) + rounding


def blind_entries(
    loss: Callable[[dict[str, NDArray[Any]]], Any],
    params: dict[str, NDArray[Any]],
    name: str,
    indices: Sequence[int] | NDArray[Any],
    steps: NDArray[Any],
    atol: float,
    rtol: float,
) -> tuple[NDArray[np.int64], int]:
    """The entries of `indices` (flat, of tensor `name`, in the order to try) where the one-sided
    derivatives disagree. It stops at the first entry where they agree (a failure there is the
    gradient's own: the row fails anyway, and trying every entry of a wrong tensor would cost a
    finite difference many times over). Returns (blind flat indices, evaluations)."""
    point = {n: np.array(v, dtype=np.float64) for n, v in params.items()}
    base = float(loss(point))
    flat = point[name].reshape(-1)
    blind: list[int] = []
    evaluations = 1
    for index in indices:
        original = flat[index]

        def along(t: float, index: Any = index, original: Any = original) -> Any:
            flat[index] = original + t
            try:
                return loss(point)
            finally:
                flat[index] = original

        step = float(steps[index]) if np.isfinite(steps[index]) else 1e-5 * max(1.0, abs(original))
        right, left, rounding = one_sided(along, base, step)
        evaluations += 4
        if not disagree(right, left, rounding, atol, rtol):
            break
        blind.append(int(index))
    return np.asarray(blind, dtype=np.int64), evaluations


def blind_directions(
    loss: Callable[[dict[str, NDArray[Any]]], Any],
    params: dict[str, NDArray[Any]],
    directions: list[dict[str, NDArray[Any]]],
    indices: Sequence[int] | NDArray[Any],
    step: float,
    atol: float,
    rtol: float,
) -> tuple[list[int], int]:
    """`blind_entries` for random directions: the directions of `indices` (in order) along which the
    one-sided derivatives disagree, up to the first where they agree."""
    point = {n: np.array(v, dtype=np.float64) for n, v in params.items()}
    base = float(loss(point))
    blind: list[int] = []
    evaluations = 1
    for i in indices:
        u = directions[i]

        def along(t: float, u: dict[str, NDArray[Any]] = u) -> Any:
            return loss({n: point[n] + t * u[n] for n in point})

        right, left, rounding = one_sided(along, base, step)
        evaluations += 4
        if not disagree(right, left, rounding, atol, rtol):
            break
        blind.append(int(i))
    return blind, evaluations
