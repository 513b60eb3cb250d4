"""own-forward-fd for an implementation whose loss rounds its parameters: the probe that finds
one, and its rows (every entry not judged). A float16 or bfloat16 implementation may compute its
loss from the finite differences' float64 parameters rounded to the case's dtype, a legitimate way
to write one (docs/formats.md 8.1); refbp.check.own_forward asks here first."""

from __future__ import annotations

import numpy as np

from refbp.cases import Case
from refbp.oracle.fd import FiniteDifference

from ..trace import Trace
from .fd_reference import OWN_FORWARD, ROUNDED
from .fd_rows import judged_rows
from .own_loss import OwnLoss
from .tolerance import fd_tolerance
from .verdict import Check

# A float16 or bfloat16 case: its implementation may compute its loss from parameters rounded to
# the dtype even when given float64 ones, where a finite difference's step (6e-6 of a parameter)
# rounds away: the differences are then 0, and no evidence of anything.
ROUNDED_DTYPES = ("float16", "bfloat16")
# Moved by this relative amount, every non-zero parameter of float32 precision or less rounds back
# to itself (its spacing is 2^-23 of it at least); a loss computed in float64 changes.
PROBE_RELATIVE = 2.0**-30


def rounds_its_parameters(own: OwnLoss, params: dict[str, np.ndarray]) -> bool:
    """True when the implementation's loss is unchanged, to the bit, with every parameter moved by
    a relative 2^-30 along two random sign patterns: it computes from the parameters rounded to a
    dtype of float32 precision or less, and differences at float64 steps see nothing of it."""
    base = own(params)
    if not np.isfinite(base):
        return False
    rng = np.random.default_rng(0)
    for _ in range(2):
        moved = {
            name: value * (1.0 + PROBE_RELATIVE * rng.choice([-1.0, 1.0], size=value.shape))
            for name, value in params.items()
        }
        if own(moved) != base:
            return False
    return True


def rounded_rows(
    case: Case, trace: Trace, params: dict[str, np.ndarray], method: str, judged_elsewhere: bool
) -> list[Check]:
    """The rows of an implementation whose loss rounds its parameters: every entry not judged, as
    at a kink (inconclusive where no torch row judges it), with a note saying how to get the check."""
    result = FiniteDifference(method)
    for name, value in params.items():
        result.grads[name] = np.zeros(value.shape)
        result.steps[name] = np.full(value.shape, np.nan)
        result.errors[name] = np.zeros(value.shape)
        result.kinks[name] = {tuple(int(i) for i in index): ROUNDED for index in np.ndindex(value.shape)}
    result.notes.append(
        f"a finite difference's step rounds away in {case.dtype}: compute the loss in float64 when given "
        "float64 parameters to have this check"
    )
    tolerance = fd_tolerance(case, method, sum(int(p.size) for p in params.values()))
    return judged_rows(case, trace, result, OWN_FORWARD, tolerance, method, judged_elsewhere)
