"""Power series that the perturbed networks' hot path (refbp.perturbed.series_paths) evaluates
where a network moved by a small x would otherwise need an exp per value.

Both are cut where the first term left out is below TOLERANCE = 2^-60 (an ulp of 1 is
2^-52), so they give the moved values to rounding, not to a truncation error:

  exp_terms(bound)       e^-x = sum_k (-x)^k / k! for |x| <= bound
  sigmoid_change(...)    s(z + x) - s(z) = sum_n D_n x^n for the sigmoid s, from u = e^-z:
                         s(z + x) = 1 / (1 + u e^-x) = s / (1 - (1 - s) c(x)) with c(x) = 1 - e^-x,
                         so s(z + x) - s(z) = s * sum_m ((1 - s) c(x))^m, a geometric series in
                         a power series. Nothing here uses a derivative formula: the first
                         coefficient comes out as s (1 - s) from the algebra alone.
  log1p_change(...)      log(1 + e^(z+x)) - log(1 + e^z) = log(1 + s (e^x - 1)) for s = s(z)
                         (the softplus's change), = sum_m (-1)^(m+1) (s e(x))^m / m with
                         e(x) = e^x - 1: the same composition table, as e(x) = -c(-x).
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np

TOLERANCE = 2.0**-60
MAX_TERMS = 12
# Past this the tail of either series is not dominated by its first term left out.
LARGEST_BOUND = 0.25


def exp_terms(bound: float):
    """How many terms of e^x = sum x^k / k! keep the first one left out below TOLERANCE for
    every |x| <= bound; None past MAX_TERMS or LARGEST_BOUND (or for a bound that is not finite)."""
    return _terms(bound, lambda k: 1.0 / math.factorial(k), first=0)


def sigmoid_change_terms(bound: float):
    """How many coefficients D_1..D_N of `sigmoid_change` keep the first one left out (times
    |x|^n) below TOLERANCE times s, for every |x| <= bound; None as `exp_terms`."""
    bounds = _coefficient_bounds()
    return _terms(bound, lambda n: bounds[n] if n < len(bounds) else math.inf, first=1)


def sigmoid_change(sigmoid: np.ndarray, one_minus_sigmoid: np.ndarray, terms: int) -> np.ndarray:
    """D [terms, *shape]: s(z + x) - s(z) = sum_{n=1..terms} D[n-1] x^n, given s = s(z) and
    1 - s (pass it as s * e^-z: 1 - s itself loses its digits where s is near 1)."""
    table = _composition_table()[:terms, :terms]  # [m, n]: coefficient of x^(n+1) in c(x)^(m+1)
    powers = np.empty((terms,) + sigmoid.shape)  # (1 - s)^(m+1)
    powers[0] = one_minus_sigmoid
    for m in range(1, terms):
        np.multiply(powers[m - 1], one_minus_sigmoid, out=powers[m])
    coefficients = np.tensordot(table.T, powers, axes=1)  # [n, ...] = sum_m table[m, n] (1 - s)^(m+1)
    coefficients *= sigmoid
    return coefficients


def log1p_change_terms(bound: float):
    """How many coefficients of `log1p_change` keep the first one left out (times |x|^n) below
    TOLERANCE times s for every |x| <= bound: its n-th is at most s times the sigmoid change's
    bound (each term of it divided by m + 1), so the sigmoid change's count serves."""
    return sigmoid_change_terms(bound)


def log1p_change(sigmoid: np.ndarray, terms: int) -> np.ndarray:
    """C [terms, *shape]: log(1 + s e(x)) = sum_{n=1..terms} C[n-1] x^n, e(x) = e^x - 1, s = sigmoid.
    The coefficient of x^(n+1) in e(x)^(m+1) is (-1)^(m+n) table[m, n] (e(x) = -c(-x)), which is
    |table[m, n]| as e's coefficients are all positive."""
    table = np.abs(_composition_table()[:terms, :terms])  # [m, n]: coefficient of x^(n+1) in e(x)^(m+1)
    outer = np.array([(-1.0) ** m / (m + 1) for m in range(terms)])  # log(1 + y) = sum_m outer[m] y^(m+1)
    powers = np.empty((terms,) + sigmoid.shape)  # s^(m+1)
    powers[0] = sigmoid
    for m in range(1, terms):
        np.multiply(powers[m - 1], sigmoid, out=powers[m])
    return np.tensordot((table * outer[:, None]).T, powers, axes=1)


def _terms(bound: float, magnitude, first: int):
    if not math.isfinite(bound) or bound > LARGEST_BOUND:
        return None
    terms = 1
    while magnitude(first + terms) * bound ** (first + terms) > TOLERANCE:
        terms += 1
        if terms > MAX_TERMS:
            return None
    return terms


@cache
def _composition_table() -> np.ndarray:
    """table[m, n]: the coefficient of x^(n+1) in c(x)^(m+1), c(x) = 1 - e^-x, for m, n < MAX_TERMS + 1."""
    size = MAX_TERMS + 1
    c = np.array([0.0] + [(-1.0) ** (k + 1) / math.factorial(k) for k in range(1, size + 1)])  # by degree
    table = np.zeros((size, size))
    power = np.zeros(size + 1)
    power[0] = 1.0
    for m in range(size):
        power = np.convolve(power, c)[: size + 1]  # c^(m+1), by degree
        table[m] = power[1:]
    return table


@cache
def _coefficient_bounds() -> tuple:
    """|D_n| / s <= sum_m |table[m, n-1]| (as 0 <= 1 - s <= 1), by n (index 0 unused)."""
    return (0.0, *np.abs(_composition_table()).sum(axis=0).tolist())
