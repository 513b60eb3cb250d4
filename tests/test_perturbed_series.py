"""The power series of refbp.perturbed.series give the moved values to rounding: every
coefficient against an independent exact value, and the sums one side of the stencil at a
time (where a dropped last term cannot cancel)."""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest

from refbp.cases import Case, MLPNetwork
from refbp.nn import build_model
from refbp.perturbed import series
from refbp.perturbed.base import Base
from refbp.perturbed.moved import moved
from refbp.perturbed.series_paths import exp_factored

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


def test_every_composition_coefficient_is_exact():
    """table[m, n], the coefficient of x^(n+1) in (1 - e^-x)^(m+1), against an independent exact
    formula: (1 - e^-x)^k = sum_j C(k, j) (-1)^j e^(-jx), whose x^n coefficient is
    sum_j C(k, j) (-1)^j (-j)^n / n!. A coefficient off by 1e-6 relative (or any) fails."""
    table = series._composition_table()
    for m in range(table.shape[0]):
        k = m + 1
        for n in range(table.shape[1]):
            exact = sum(Fraction(math.comb(k, j) * (-1) ** j * (-j) ** (n + 1)) for j in range(k + 1))
            exact /= math.factorial(n + 1)
            assert table[m, n] == pytest.approx(float(exact), rel=1e-14, abs=0), (m, n)


def test_every_sigmoid_change_coefficient_is_the_taylor_coefficient():
    """D_n = s^(n)(z) / n!, from mpmath's Taylor coefficients at 50 digits, for every n the
    series may use (the closed forms above stop at 3)."""
    mpmath.mp.dps = 50
    for z in (-8.0, -1.5, 0.0, 0.7, 5.0):
        s = 1.0 / (1.0 + math.exp(-z))
        exact = mpmath.taylor(lambda t: 1 / (1 + mpmath.exp(-t)), mpmath.mpf(z), series.MAX_TERMS)
        d = series.sigmoid_change(np.array([s]), np.array([s * math.exp(-z)]), series.MAX_TERMS)[:, 0]
        scale = [s * float(b) for b in series._coefficient_bounds()[1:]]  # each coefficient's terms
        for n in range(series.MAX_TERMS):
            assert abs(d[n] - float(exact[n + 1])) <= 1e-13 * scale[n], (z, n + 1)


def _one_sided_exp_error(case, name: str, sign: float, tolerance: float, monkeypatch) -> tuple[float, float]:
    """The exp series path (e^-net of the layer after the moved unit as the base's times a series)
    at deltas of one sign only, with series.TOLERANCE set to `tolerance`: its largest error
    relative to e^-net computed directly, and the first term left out at the bound."""
    monkeypatch.setattr(series, "TOLERANCE", tolerance)
    model = build_model(case.network)
    params = {n: np.asarray(p, dtype=np.float64) for n, p in case.params.items()}
    base = Base(model, params, np.asarray(case.inputs, dtype=np.float64))
    size = params[name].size
    deltas = sign * np.linspace(0.02, 0.05, size)  # large changes: several terms, each one visible
    change = moved(base, name, np.arange(size), deltas)
    layer = change.layer + 1
    width = params[f"layers.{layer}.weight"].shape[0]
    out = np.empty((width, size * base.batch))
    assert exp_factored(base, layer, change, out, example_major=False)
    weight = params[f"layers.{layer}.weight"]
    moved_net = base.forward.nets[layer][None] + change.delta_out[:, :, None] * weight[:, change.units].T[:, None, :]
    direct = np.exp(-moved_net)  # [S, B, n]
    got = out.reshape(width, size, base.batch).transpose(1, 2, 0)
    bound = base.largest_weight(layer) * change.largest_delta_out
    terms = series.exp_terms(bound)
    return float(np.max(np.abs(got / direct - 1.0))), bound**terms / math.factorial(terms)


@pytest.mark.parametrize("sign", [1.0, -1.0])
@pytest.mark.parametrize("tolerance", [2.0**-16, 2.0**-24, 2.0**-32])
def test_the_exp_series_one_sided_sums_keep_every_term(sign, tolerance, monkeypatch):
    """One side of the stencil at a time (in central differences the even terms cancel, so a
    dropped last term can hide): with the series cut coarser than rounding, its error is the
    tail past the first term left out, never more."""
    case = _sigmoid_case()
    error, first_left_out = _one_sided_exp_error(case, "layers.0.weight", sign, tolerance, monkeypatch)
    assert first_left_out <= tolerance
    assert error <= 1.5 * tolerance + 64 * EPS


def test_a_dropped_last_term_fails_the_one_sided_check(monkeypatch):
    """The check above has teeth: the same path with its last term dropped is off by more."""
    case = _sigmoid_case()
    real = series.exp_terms
    monkeypatch.setattr(series, "exp_terms", lambda bound: max(1, real(bound) - 1))
    errors = [_one_sided_exp_error(case, "layers.0.weight", sign, 2.0**-24, monkeypatch)[0] for sign in (1.0, -1.0)]
    assert max(errors) > 1.5 * 2.0**-24 + 64 * EPS


def _sigmoid_case() -> Case:
    network = MLPNetwork(sizes=(3, 5, 4), activations=("tanh", "sigmoid"), bias=True)
    rng = np.random.default_rng(3)
    params = {name: rng.standard_normal(shape) for name, shape in network.param_shapes().items()}
    return Case(
        id="series",
        network=network,
        loss="half_sse",
        params=params,
        inputs=rng.standard_normal((4, 3)),
        targets=rng.uniform(0.1, 0.9, (4, 4)),
    )
