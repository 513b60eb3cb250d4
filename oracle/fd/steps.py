"""Step sizes and error estimates: each method's step balances its truncation error
against the rounding error of the loss.

A method of order p has truncation ~ C h^p and rounding ~ delta / h, where delta is the
rounding error of one loss evaluation; their sum is smallest near h ~ eps^(1/(p+1)) (on
the parameter's own scale, max(1, |x|)). The complex step subtracts nothing: its rounding
does not grow as h shrinks, so h is taken far below where truncation could be seen.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

EPS = float(np.finfo(np.float64).eps)
RELATIVE_STEP = {
    "central": EPS ** (1.0 / 3.0),  # order 2: ~6.1e-6
    # Levels h, 2h, 4h extrapolated twice: order 6, balanced near eps^(1/7) for the middle level.
    "richardson": EPS ** (1.0 / 7.0) / 2.0,  # ~2.9e-3
    "complex": 1e-20,  # h^2 |f'''| / 6 is far below eps for any h under ~1e-8
}
# Rounding of one loss evaluation: a few ulps of max(|L|, 1). A loss under 1 is still made
# of O(1) outputs, whose rounding does not shrink with the loss.
ROUNDING_ULPS = 8


def scale(value: NDArray[Any]) -> NDArray[np.float64]:
    return np.asarray(np.maximum(1.0, np.abs(value)), dtype=np.float64)


def step_sizes(value: NDArray[Any], relative: float, exact: bool = True) -> NDArray[Any]:
    """A step per entry scaled to its magnitude, rounded so that (x + h) - x == h exactly
    (`exact`; the complex step's imaginary step is never added to x's real part)."""
    h = relative * scale(value)
    return (value + h) - value if exact else h


def loss_rounding(loss_value: float) -> float:
    return ROUNDING_ULPS * EPS * max(abs(loss_value), 1.0)


def central_error(derivative: Any, second_difference: Any, h: Any, x_scale: Any, delta: Any) -> Any:
    """Estimated |truncation| + |rounding| of a central difference.

    Rounding: delta / h. Truncation h^2 |f'''| / 6 cannot be seen from two points; f''' is
    taken as |f''| / s + |f'| / s^2 on the parameter's scale s, with f'' from the second
    difference (f(x+h) + f(x-h) - 2 f(x)) / h^2, which costs nothing more. A heuristic, not
    a bound: Richardson measures its truncation instead.
    """
    second = np.abs(second_difference) / (h * h)
    third = second / x_scale + np.abs(derivative) / (x_scale * x_scale)
    return h * h * third / 6.0 + delta / h
