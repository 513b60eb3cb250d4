"""The power series of refbp.perturbed.series give the moved values to rounding."""

from __future__ import annotations

import numpy as np
import pytest

from refbp.perturbed import series

EPS = np.finfo(np.float64).eps
Z = np.concatenate([np.linspace(-40.0, 40.0, 161), [-700.0, -1e-3, 0.0, 1e-3, 700.0]])


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def reference_change(z, x):
    """s(z + x) - s(z) = s(z + x) (1 - s(z)) (1 - e^-x): every factor to a few ulps, no cancellation."""
    return sigmoid(z + x) * sigmoid(-z) * -np.expm1(-x)


@pytest.mark.parametrize("bound", [1e-7, 1e-4, 1e-2, 0.05])
def test_exp_series_gives_the_exp_to_rounding(bound):
    terms = series.exp_terms(bound)
    assert terms is not None and terms <= series.MAX_TERMS
    x = np.linspace(-bound, bound, 101)
    value = sum(x**k / np.prod(np.arange(1, k + 1, dtype=float)) for k in range(terms))
    np.testing.assert_allclose(value, np.exp(x), rtol=4 * EPS, atol=0)


@pytest.mark.parametrize("bound", [1e-7, 1e-4, 1e-3, 1e-2])
def test_sigmoid_change_gives_the_change_to_rounding(bound):
    terms = series.sigmoid_change_terms(bound)
    assert terms is not None
    s = sigmoid(Z)
    one_minus = s * np.exp(-np.minimum(Z, 700.0))  # 1 - s, to full precision where s is near 1
    coefficients = series.sigmoid_change(s, one_minus, terms)
    for x in (-bound, -bound / 3, bound / 7, bound):
        value = sum(coefficients[n] * x ** (n + 1) for n in range(terms))
        expected = reference_change(Z, x)
        # To a few dozen ulps of the change itself (a wrong coefficient D_n would be off by
        # about |x|^(n-1) of it), which is far below an ulp of the moved sigmoid.
        np.testing.assert_allclose(value, expected, rtol=64 * EPS, atol=1e-300, err_msg=f"x = {x}")


def test_the_first_coefficients_are_the_sigmoids_derivatives():
    """Cited closed forms: s' = s(1-s), s'' = s(1-s)(1-2s), s''' = s(1-s)(1-6s+6s^2); D_n = s^(n)/n!.
    The series never uses them: they come out of composing e^-x with a geometric series."""
    s = sigmoid(np.linspace(-6.0, 6.0, 25))
    d = series.sigmoid_change(s, 1.0 - s, 3)
    np.testing.assert_allclose(d[0], s * (1 - s), rtol=1e-14)
    np.testing.assert_allclose(d[1], s * (1 - s) * (1 - 2 * s) / 2, rtol=1e-12, atol=1e-17)
    np.testing.assert_allclose(d[2], s * (1 - s) * (1 - 6 * s + 6 * s * s) / 6, rtol=1e-12, atol=1e-17)


@pytest.mark.parametrize("terms_for", [series.exp_terms, series.sigmoid_change_terms])
def test_no_series_where_it_would_need_too_many_terms(terms_for):
    assert terms_for(0.5) is None
    assert terms_for(float("nan")) is None
    assert terms_for(float("inf")) is None
    assert terms_for(0.0) == 1
