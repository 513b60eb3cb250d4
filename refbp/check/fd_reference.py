"""Finite-difference rows whose verdict is the gradient's, not the reference's own doing.

  - an entry whose finite difference is not finite (the loss is not finite at its points,
    or a form returned NaN) is never left out silently: `unjudged_entries` counts them, and
    the row that holds them fails (refbp.check.check_case).
"""

from __future__ import annotations

import numpy as np

from oracle.fd import FiniteDifference


def unjudged_entries(result: FiniteDifference, name: str) -> int:
    """Entries the method evaluated (a step was taken) whose finite difference is not finite,
    leaving out non-differentiable points (reported as such)."""
    evaluated = np.isfinite(result.steps[name]) & ~result.kink_mask(name)
    return int(np.sum(evaluated & ~np.isfinite(result.grads[name])))
