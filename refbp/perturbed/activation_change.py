"""How an elementwise activation's out changes when its net z moves by x, as a power series
f(z + x) - f(z) = sum_{n=1..N} C_n(z) x^n whose coefficients come from the base's nets once,
keyed by activation name; numpy and refbp.nn's activations by name only.

Each is algebra on refbp's own forward, cut where refbp.perturbed.series cuts (the first term
left out below 2^-60 of the out's scale), never a derivative formula:

  sigmoid     series.sigmoid_change from s(z) and s(-z) = 1 - s(z)
  tanh        tanh z = 2 s(2z) - 1, so tanh(z + x) - tanh(z) = 2 (s(2z + 2x) - s(2z)): the
              sigmoid's coefficients at 2z, times 2^(n+1)
  softplus    log(1 + e^(z+x)) - log(1 + e^z) = log(1 + s(z) (e^x - 1)): series.log1p_change
  elu         z <= 0: e^(z+x) - 1 - (e^z - 1) = e^z (e^x - 1), so C_n = e^z / n!; z > 0: x
  relu, leaky_relu, identity
              the linear piece on the base's side of 0, its slope read off refbp's forward
              (f(1) for z > 0, -f(-1) below): C_1 = that slope, no other term

The piecewise ones (refbp.names' kinked activations) hold only while the moved net stays on
the base's side of 0: refbp.perturbed.kink_margins says which perturbed networks may cross.
"""

from __future__ import annotations

import math

import numpy as np

from refbp.nn import activations

from . import series

SIGMOID = activations.get("sigmoid")
LINEAR_PIECES = ("relu", "leaky_relu", "identity")


def change_terms(activation, bound: float):
    """How many coefficients give `activation`'s change to rounding for every |x| <= bound; None
    where it has no series here (softmax) or the bound is too large for a short one."""
    name = activation.name
    if name in LINEAR_PIECES:
        return 1 if math.isfinite(bound) else None
    if name == "sigmoid":
        return series.sigmoid_change_terms(bound)
    if name == "tanh":
        return series.sigmoid_change_terms(2.0 * bound)
    if name == "softplus":
        return series.log1p_change_terms(bound)
    if name == "elu":
        return series.exp_terms(bound)  # e^z x^n / n! with e^z <= 1: past n = exp_terms, below TOLERANCE
    return None


def change_coefficients(activation, net: np.ndarray, out: np.ndarray, terms: int) -> np.ndarray:
    """C [terms, *net.shape]: activation(net + x) - out = sum_{n=1..terms} C[n-1] x^n, for the
    base's `net` and its out = activation(net) (float64)."""
    name = activation.name
    if name in LINEAR_PIECES:
        slopes = (float(activation.forward(np, np.float64(1.0))), -float(activation.forward(np, np.float64(-1.0))))
        return np.where(net > 0, *slopes)[None]
    if name == "sigmoid":
        return series.sigmoid_change(out, SIGMOID.forward(np, -net), terms)
    if name == "tanh":
        doubled = 2.0 * net
        coefficients = series.sigmoid_change(SIGMOID.forward(np, doubled), SIGMOID.forward(np, -doubled), terms)
        coefficients *= (2.0 ** np.arange(2, terms + 2))[(slice(None),) + (None,) * net.ndim]
        return coefficients
    if name == "softplus":
        return series.log1p_change(SIGMOID.forward(np, net), terms)
    if name == "elu":
        below = np.exp(np.minimum(net, 0.0)) * (net <= 0)
        inverse_factorials = np.array([1.0 / math.factorial(n) for n in range(1, terms + 1)])
        coefficients = inverse_factorials[(slice(None),) + (None,) * net.ndim] * below[None]
        coefficients[0] += net > 0
        return coefficients
    raise ValueError(f"no change series for activation {name!r}")
