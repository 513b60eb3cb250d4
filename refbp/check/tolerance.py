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


def tolerance_for(case, reference: str) -> Tolerance:
    if reference == "expected":
        return case.expected.tolerance
    if case.tolerance is not None:
        return case.tolerance
    return POLICY[(case.dtype, reference)]
