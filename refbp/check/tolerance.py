"""The tolerance policy: every tolerance refbp judges with, in one table (`POLICY`).

An entry passes when |actual - reference| <= atol + rtol * |reference| (numpy's isclose,
relative to the reference). Every report row shows the atol/rtol it was judged with.
A case's `tolerance` field overrides the row for both references; its `expected.tolerance`
governs the published numbers.

float64 rows are fixed numbers (below). float32 rows are derived per case from float32's
epsilon and the network's depth and size (`Float32Rule`):

    atol = rtol = FACTOR * K * eps32,        eps32 = 2^-23 (unit roundoff u = eps32 / 2)

where K counts the float32 roundings on the longest chain of operations behind a checked
value. The derivation: a sum or dot product of n float32 terms is off by at most
gamma_n |terms| ~= n u |terms| (Higham, *Accuracy and Stability of Numerical Algorithms*,
2nd ed., 2002, Lemma 3.1 and eq. 3.5); errors along a chain of such operations add up to
first order, through functions whose slopes are at most 1 (every activation but the
sigmoid's 1/4; weights bounded by 1/sqrt(fan_in), as torch initialises and
refbp.testing.strategies draws). So a value is off by at most K u M, M the magnitude of the
terms behind it: the cases' numbers are order one and a net is a few units in size (at most
sqrt(fan_in) + 1 times a layer's input, see refbp.testing.strategies), so M <= 4 and
K u M <= 2 K eps32: FACTOR = 2. atol covers values whose terms cancel (the error is
relative to the terms, not to the small result), rtol the others.

K for a case (`rounding_chain`), with ACTIVATION (= 4: exp, add, divide and the slope's
product) and LOSS (= 4) roundings for an activation and a loss's own formula:
- MLP of sizes s_0..s_L, batch B: forward sum_l (s_{l-1} + 1 + ACTIVATION); the loss, a sum
  of B s_L terms and a log-sum-exp over s_L: B s_L + s_L + LOSS; backward, from the loss's
  gradient through each layer's slope and a product over its s_l outputs:
  LOSS + sum_l (s_l + ACTIVATION); a weight gradient sums B terms.
- RNN of sizes I, H, O over T steps: forward T (I + H + 2 + ACTIVATION) + H + 1 + ACTIVATION;
  loss B T O + O + LOSS; backward LOSS + O + ACTIVATION + T (H + ACTIVATION); a weight
  gradient sums B T terms.
- Training of S steps multiplies the chain by (1 + S eta), eta the largest multiple of a
  gradient one update moves a parameter by (SGD: lr / (1 - momentum), the geometric sum of
  the momentum buffer; Adam: lr, its normalised step), plus OPTIMIZER (= 4) roundings per step.

The deterministic bound is pessimistic (rounding errors mostly cancel, ~sqrt(K) u), so the
rule raises no false alarm (`refbp fuzz --dtype float32`, docs/fuzz.md), while a bug moves
a value by far more than K eps32 (1e-5 to 1e-3 for the suite's sizes): the teeth tests run
in float32 too (tests/test_teeth_float32.py).

A published value (`expected`) is judged within half a unit of its last printed digit;
a float32 implementation cannot carry more digits than float32 holds, so there the
allowance is at least the float32 rule's (`published_allowance`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from refbp.cases import Case, RNNNetwork, Tolerance

from . import stick

EPS = {"float64": float(np.finfo(np.float64).eps), "float32": float(np.finfo(np.float32).eps)}
# float16 and bfloat16 (and float32, beside its rule): the stick below, SAME_PRECISION_K.


@dataclass(frozen=True)
class Float32Rule:
    """atol = rtol = FACTOR * K * eps32, K = rounding_chain(case) (the module docstring)."""

    FACTOR = 2.0
    ACTIVATION = 4
    LOSS = 4
    OPTIMIZER = 4

    def for_chain(self, chain: float) -> Tolerance:
        value = self.FACTOR * chain * EPS["float32"]
        return Tolerance(atol=value, rtol=value)

    def for_case(self, case: Case) -> Tolerance:
        return self.for_chain(rounding_chain(case))


FLOAT32 = Float32Rule()

# (dtype the implementation ran in, reference) -> tolerance (float32: the rule, per case).
#  - torch-autograd runs in float64. A float64 implementation agrees to rounding (~1e-15
#    relative); 1e-7 relative leaves room for long sums and training steps, yet a wrong
#    term of 1e-3 relative still fails by four orders of magnitude.
#  - finite-difference: central differences with h ~ eps^(1/3) carry ~1e-10 truncation
#    plus rounding error relative to the loss; hence looser than autograd.
#  - float32: both references are float64, far more exact than the float32 implementation:
#    its own rounding is the whole allowance, derived per case (Float32Rule).
POLICY: dict[tuple[str, str], Tolerance | Float32Rule | SameStick] = {
    ("float64", "torch-autograd"): Tolerance(atol=1e-10, rtol=1e-7),
    ("float64", "finite-difference"): Tolerance(atol=1e-7, rtol=1e-5),
    ("float32", "torch-autograd"): FLOAT32,
    ("float32", "finite-difference"): FLOAT32,
}


class SameStick:
    """float16 and bfloat16: judged against torch's own error at the same precision
    (refbp.check.precision). The torch-autograd rows take it entry by entry; a row that takes one
    tolerance for the whole case (finite differences, the published values) gets K x torch's
    largest error over the case's gradients (precision.case_tolerance)."""

    def for_case(self, case: Case) -> Tolerance:
        return stick.case_tolerance(case, SAME_PRECISION_K, SAME_PRECISION_FLOOR_ULPS, SAME_PRECISION_TERMS_ULPS)


SAME_STICK = SameStick()
for _dtype in ("float16", "bfloat16"):
    POLICY[(_dtype, "torch-autograd")] = SAME_STICK
    POLICY[(_dtype, "finite-difference")] = SAME_STICK

# The measuring stick for float32, float16 and bfloat16 (refbp.check.precision, docs/precision.md):
# an entry may be off from float64 by K times what torch itself is off by at that precision, on
# the same numbers, its largest error over the tensor (the FlashAttention authors' k = 2, their
# criterion on the largest error); and never by less than FLOOR_ULPS spacings of the dtype at the
# tensor's scale (its largest |float64| entry: the size of the terms behind an entry), as an
# honest implementation may round once more than torch (a product, then its bias) where torch's
# own error is small by chance (a tensor of a few entries).
SAME_PRECISION_K = 2.0
SAME_PRECISION_FLOOR_ULPS = 4.0
# And, per entry of an output, intermediate or gradient, never by less than TERMS_ULPS spacings of
# the dtype at the size of the terms behind that entry (|W| |x| + |b| carried forward for a net or
# an output, |dL/dnet|^T |x| for a weight, sum |dL/dnet| for a bias, |dL/dnet| |W| for the inputs,
# from the float64 reference on absolute values: refbp.oracle.rounding_terms), where the terms
# cancel and torch's own error on a small tensor is one lucky draw. It assumes
# products accumulated in float32 and rounded once (torch's CPU kernels, numpy's float16 matmul,
# ml_dtypes' bfloat16 matmul), so the count does not grow with the length of a sum: the operands'
# roundings (x, the slope, dL/dnet: one unit u = eps / 2 each) and the result's, 4 u = 2 eps. A
# sum accumulated in the dtype itself is off by up to n u and fails: a precision finding. Measured
# on the fuzzer's examples (docs/precision.md): where this floor decides, correct implementations
# stay below 0.8 eps x the terms; torch's own error passes 2 eps x them on 4 to 8 % of tensors.
SAME_PRECISION_TERMS_ULPS = 2.0
# Not a tolerance: a failed row that no catalogued bug explains, off by at most this many spacings
# of the dtype at the tensor's scale, is named a precision finding (refbp.check.precision): a bug
# of the formula moves a tensor by a large part of itself, too much rounding by a few dozen ulps.
PRECISION_FINDING_ULPS = 64.0


def allowance(
    case: Case, reference: Any, torch_value: Any, terms: float = 0.0, entry_terms: Any = None
) -> tuple[np.ndarray, np.ndarray, float]:
    """(allowed error per entry, inconclusive entries, torch's own error) of one tensor of a
    low-precision case under the stick (refbp.check.stick.allowance); float32 with its rule."""
    rule = FLOAT32.for_case(case) if case.dtype == "float32" else None
    allowed: tuple[np.ndarray, np.ndarray, float] = stick.allowance(
        case,
        reference,
        torch_value,
        SAME_PRECISION_K,
        SAME_PRECISION_FLOOR_ULPS,
        rule,
        terms,
        entry_terms,
        SAME_PRECISION_TERMS_ULPS,
    )
    return allowed


def rounding_chain(case: Case) -> float:
    """K: the float32 roundings on the longest chain behind a checked value of `case`."""
    rule, network, batch = FLOAT32, case.network, case.batch
    if not isinstance(network, RNNNetwork):
        sizes = network.sizes
        forward = sum(n + 1 + rule.ACTIVATION for n in sizes[:-1])
        loss = batch * sizes[-1] + sizes[-1] + rule.LOSS
        backward = rule.LOSS + sum(n + rule.ACTIVATION for n in sizes[1:])
        summed = batch
    else:
        steps, inputs, hidden, outputs = case.steps, network.input_size, network.hidden_size, network.output_size
        forward = steps * (inputs + hidden + 2 + rule.ACTIVATION) + hidden + 1 + rule.ACTIVATION
        loss = batch * steps * outputs + outputs + rule.LOSS
        backward = rule.LOSS + outputs + rule.ACTIVATION + steps * (hidden + rule.ACTIVATION)
        summed = batch * steps
    chain = forward + loss + backward + summed
    train = case.train
    if train is None:
        return float(chain)
    eta = train.lr / (1.0 - train.momentum) if train.optimizer == "sgd" else train.lr
    return float(chain * (1.0 + train.steps * eta) + train.steps * rule.OPTIMIZER)


def published_allowance(case: Case, reference_values: Any, half_unit: np.ndarray) -> np.ndarray:
    """Each published entry's allowance: half a unit in its last printed digit, and for a
    float32 (float16, bfloat16) case at least what rounding at its precision allows there."""
    if case.dtype == "float64":
        return half_unit
    tolerance = _rounding(case)
    widest: np.ndarray = np.maximum(
        half_unit, tolerance.atol + tolerance.rtol * np.abs(np.asarray(reference_values, dtype=float))
    )
    return widest


def _rounding(case: Case) -> Tolerance:
    """What rounding at the case's precision allows: the float32 rule; float16 and bfloat16 the stick."""
    return FLOAT32.for_case(case) if case.dtype == "float32" else SAME_STICK.for_case(case)


def published_tolerance(case: Case) -> Tolerance:
    """The case's `expected.tolerance`; for a float32 (float16, bfloat16) case at least what rounding
    at its precision allows. (Asked of a case that publishes values.)"""
    if case.expected is None:
        raise ValueError(f"{case.id}: publishes no values, so no tolerance for them")
    published = case.expected.tolerance
    if case.dtype == "float64":
        return published
    rounding = _rounding(case)
    return Tolerance(atol=max(published.atol, rounding.atol), rtol=max(published.rtol, rounding.rtol))


# Finite differences carry their own error, which every method estimates per entry (its
# truncation + rounding; see refbp.oracle.fd.steps and refbp.oracle.fd.methods). A finite-difference
# entry passes when
#     |actual - fd| <= atol + rtol |fd| + FD_ERROR_FACTOR * e
# with atol/rtol from POLICY and e the method's estimate at that entry; each row shows its
# method, its largest step and its largest e. The estimates are order-of-magnitude (on
# the suite's MLP cases the actual error against torch was 0.3 of e at most, per method,
# but central differences only guess their truncation), hence a factor of 4 rather than 1. The
# allowance only widens an entry by what the reference itself may be off: for central
# differences it is ~1e-9, far under atol; for Richardson and the complex step it is smaller
# still. A row where the allowance exceeds atol + rtol |fd| for some entry says so in its note
# (a weak check there).
FD_ERROR_FACTOR = 4.0


def fd_tolerance(case: Case, method: str, parameter_count: int) -> Tolerance:
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


def tolerance_for(case: Case, reference: str) -> Tolerance:
    if reference == "expected":
        return published_tolerance(case)
    if case.tolerance is not None:
        return case.tolerance
    entry = POLICY[(case.dtype, reference)]
    return entry.for_case(case) if isinstance(entry, (Float32Rule, SameStick)) else entry
