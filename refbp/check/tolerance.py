"""The tolerance policy: every tolerance refbp judges with, in one table.

An entry passes when |actual - reference| <= atol + rtol * |reference| (numpy's isclose,
relative to the reference). Every report row shows the atol/rtol it was judged with.
A case's `tolerance` field overrides the row for both references; its `expected.tolerance`
governs the published numbers.
"""

from __future__ import annotations

import numpy as np

from cases import Tolerance

EPS = {"float64": float(np.finfo(np.float64).eps), "float32": float(np.finfo(np.float32).eps)}

# (dtype the implementation ran in, reference) -> tolerance.
#  - torch-autograd runs in float64. A float64 implementation agrees to rounding (~1e-15
#    relative); 1e-7 relative leaves room for long sums and training steps, yet a wrong
#    term of 1e-3 relative still fails by four orders of magnitude.
#  - finite-difference: central differences with h ~ eps^(1/3) carry ~1e-10 truncation
#    plus rounding error relative to the loss; hence looser than autograd.
#  - float32: 2^10 and 2^7 times float32's eps (1.2e-4 and 1.5e-5): accumulated rounding
#    of float32 sums over a batch and a few layers, far below a realistic bug.
POLICY: dict[tuple[str, str], Tolerance] = {
    ("float64", "torch-autograd"): Tolerance(atol=1e-10, rtol=1e-7),
    ("float64", "finite-difference"): Tolerance(atol=1e-7, rtol=1e-5),
    ("float32", "torch-autograd"): Tolerance(atol=2**7 * EPS["float32"], rtol=2**10 * EPS["float32"]),
    ("float32", "finite-difference"): Tolerance(atol=2**7 * EPS["float32"], rtol=2**10 * EPS["float32"]),
}


# Finite differences carry their own error, which every method estimates per entry (its
# truncation + rounding; see oracle.fd.steps and oracle.fd.methods). A finite-difference
# entry passes when
#     |actual - fd| <= atol + rtol |fd| + FD_ERROR_FACTOR * e
# with atol/rtol from POLICY and e the method's estimate at that entry; each row shows its
# method, its largest step and its largest e. The estimates are order-of-magnitude (on
# the suite's MLP cases the actual error against torch was 0.3 of e at most, per method,
# but central differences only guess their truncation), hence a factor of 4 rather than 1. The allowance only widens an entry by what the
# reference itself may be off: for central differences it is ~1e-9, far under atol; for
# Richardson and the complex step it is smaller still. A row where the allowance exceeds
# atol + rtol |fd| for some entry says so in its note (a weak check there).
FD_ERROR_FACTOR = 4.0


def fd_tolerance(case, method: str, parameter_count: int) -> Tolerance:
    """The finite-difference row's atol/rtol for `method`.

    Directional checks compare one number per direction, <grad, u> with |u| = 1: a wrong
    entry j enters it times |u_j| ~ 1 / sqrt(P). So that a directional check keeps the power
    of an entry-wise one, its atol is the entry-wise atol / sqrt(P) (float64 cases with no
    tolerance of their own; float32 rounding of the gradient does not shrink that way).
    """
    base = tolerance_for(case, "finite-difference")
    if method == "directional" and case.tolerance is None and case.dtype == "float64" and parameter_count > 0:
        return Tolerance(atol=base.atol / float(np.sqrt(parameter_count)), rtol=base.rtol)
    return base


def tolerance_for(case, reference: str) -> Tolerance:
    if reference == "expected":
        return case.expected.tolerance
    if case.tolerance is not None:
        return case.tolerance
    return POLICY[(case.dtype, reference)]
