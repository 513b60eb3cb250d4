"""The methods, each over any `LossForms`: its `loss(params)` and, when given, its batched forms.

central      (L(x+h) - L(x-h)) / 2h                                  O(h^2), 2 evaluations
richardson   R(h) = (4 D(h) - D(2h)) / 3 from the central differences    6 evaluations
             D(h), D(2h), D(4h) (O(h^4)), extrapolated once more: (16 R(h) - R(2h)) / 15,
             O(h^6); its truncation is estimated (conservatively) as R(h)'s, |R(h) - R(2h)| / 15
complex      Im L(x + ih) / h, no subtraction: rounding-limited       1 complex evaluation
directional  (L(p + h u) - L(p - h u)) / 2h for k random unit u       2 evaluations each
sampled      central on n random entries of each tensor, every entry of each bias
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from refbp.loss_forms import LossForms

from .agreement import agrees
from .evaluate import Evaluator
from .kinks import crossed_unit, crossed_units_stacked
from .result import FiniteDifference
from .steps import EPS, RELATIVE_STEP, central_error, loss_rounding, scale, step_sizes

Params = dict[str, NDArray[Any]]
# select(name, tensor) -> the flat indices of the entries to evaluate
Select = Callable[[str, NDArray[Any]], NDArray[np.int64]]
# estimate(values [E, K], h [E], x [E], delta [E]) -> (derivative, error)
Estimate = Callable[[NDArray[Any], NDArray[Any], NDArray[Any], NDArray[Any]], tuple[NDArray[Any], NDArray[Any]]]


class ComplexStepRefused(ValueError):
    """The complex step needs an analytic network and a forward that takes complex numbers."""


def _entrywise(
    evaluator: Evaluator,
    params: Params,
    method: str,
    estimate: Estimate,
    points: Callable[[NDArray[Any]], NDArray[Any]],
    relative: float,
    select: Select | None = None,
    rounding: dict[str, NDArray[Any]] | None = None,
) -> FiniteDifference:
    """Run `estimate(values [E, K], h [E], x [E], delta [E]) -> (derivative, error)` over the
    entries of each tensor (all of them, or `select(name, tensor)` of them), at offsets
    `points(h) -> [E, K]`; delta is the rounding of one loss evaluation: a few ulps of the loss,
    or where `rounding` {tensor: flat array} gives more (measured: refbp.oracle.fd.noise), that."""
    result = FiniteDifference(method=method)
    assumed = loss_rounding(evaluator.base_loss)
    for name, tensor in params.items():
        tensor = np.asarray(tensor, dtype=np.float64)
        flat = tensor.reshape(-1)
        chosen = np.arange(flat.size) if select is None else select(name, tensor)
        h = step_sizes(flat[chosen], relative, exact=method != "complex")
        values, kinks = evaluator.losses(name, chosen, points(h))
        delta = np.full(chosen.size, assumed)
        if rounding is not None and name in rounding:
            delta = np.fmax(delta, rounding[name].reshape(-1)[chosen])
        derivative, error = estimate(values, h, flat[chosen], delta)
        for key, fill in (("grads", derivative), ("steps", h), ("errors", error)):
            full = np.full(flat.size, np.nan)
            full[chosen] = fill
            getattr(result, key)[name] = full.reshape(tensor.shape)
        if kinks:
            result.kinks[name] = {
                tuple(int(j) for j in np.unravel_index(i, tensor.shape)): unit for i, unit in kinks.items()
            }
    result.evaluations = evaluator.evaluations
    result.notes = evaluator.notes
    return result


def central(
    forms: LossForms, params: Params, select: Select | None = None, method: str = "central"
) -> FiniteDifference:
    evaluator = Evaluator(forms.loss, params, forms.probe, forms.perturbed)

    def estimate(
        values: NDArray[Any], h: NDArray[Any], x: NDArray[Any], delta: NDArray[Any]
    ) -> tuple[NDArray[Any], NDArray[Any]]:
        derivative = (values[:, 0] - values[:, 1]) / (2.0 * h)
        second = values[:, 0] + values[:, 1] - 2.0 * evaluator.base_loss
        return derivative, central_error(derivative, second, h, scale(x), delta)

    return _entrywise(
        evaluator, params, method, estimate, lambda h: np.stack([h, -h], axis=1), RELATIVE_STEP["central"], select
    )


def richardson(
    forms: LossForms,
    params: Params,
    select: Select | None = None,
    relative: float | None = None,
    rounding: dict[str, NDArray[Any]] | None = None,
) -> FiniteDifference:
    """`rounding` {tensor: flat array}: the measured noise of the loss along each entry
    (refbp.oracle.fd.noise), where it exceeds the few ulps otherwise assumed."""
    evaluator = Evaluator(forms.loss, params, forms.probe, forms.perturbed)

    def estimate(
        values: NDArray[Any], h: NDArray[Any], x: NDArray[Any], delta: NDArray[Any]
    ) -> tuple[NDArray[Any], NDArray[Any]]:
        d1, d2, d4 = ((values[:, k] - values[:, k + 1]) / (2.0 * m * h) for k, m in ((0, 1), (2, 2), (4, 4)))
        r1, r2 = (4.0 * d1 - d2) / 3.0, (4.0 * d2 - d4) / 3.0
        # R's error is c h^4, so R(2h) - R(h) ~ 15 c h^4. The value (64 D(h) - 20 D(2h) + D(4h)) / 45
        # carries the rounding of D(mh), delta / (m h), times (64 + 10 + 1/4) / 45 < 1.7.
        return (16.0 * r1 - r2) / 15.0, np.abs(r1 - r2) / 15.0 + 1.7 * delta / h

    return _entrywise(
        evaluator,
        params,
        "richardson",
        estimate,
        lambda h: np.stack([h, -h, 2 * h, -2 * h, 4 * h, -4 * h], axis=1),
        relative or RELATIVE_STEP["richardson"],
        select,
        rounding,
    )


def complex_step(forms: LossForms, params: Params, select: Select | None = None) -> FiniteDifference:
    if forms.complex_loss is None:
        raise ComplexStepRefused(
            forms.not_analytic
            or "complex step refused: no complex-capable loss function was "
            "given (it needs a network whose every function is analytic)"
        )
    evaluator = Evaluator(forms.complex_loss, params, perturbed=forms.complex_perturbed, dtype=np.complex128)
    floor = max(abs(evaluator.base_loss), 1.0)

    def estimate(
        values: NDArray[Any], h: NDArray[Any], x: NDArray[Any], delta: NDArray[Any]
    ) -> tuple[NDArray[Any], NDArray[Any]]:
        derivative = values[:, 0].imag / h
        # No subtraction: rounding of a few ulps of the derivative and of the loss's scale.
        return derivative, 16.0 * EPS * (np.abs(derivative) + floor / scale(x))

    return _entrywise(
        evaluator, params, "complex", estimate, lambda h: 1j * h[:, None], RELATIVE_STEP["complex"], select
    )


def sampled(forms: LossForms, params: Params, samples: int = 8, seed: int = 0) -> FiniteDifference:
    """Central differences on `samples` random entries of each tensor and on every entry of
    each bias (1-d tensor): biases are small and where a missing term hides."""
    rng = np.random.default_rng(seed)

    def select(name: str, tensor: NDArray[Any]) -> NDArray[np.int64]:
        if tensor.ndim <= 1 or tensor.size <= samples:
            return np.arange(tensor.size)
        return np.sort(rng.choice(tensor.size, size=samples, replace=False))

    return central(forms, params, select=select, method="sampled")


def directional(forms: LossForms, params: Params, directions: int = 4, seed: int = 0) -> FiniteDifference:
    """The derivative of the loss along k random unit directions u (over all parameters at
    once), to be compared with <grad, u>: 2 evaluations per direction whatever the size."""
    loss, probe = forms.loss, forms.probe
    stacked: Callable[..., Any] | None = forms.stacked
    params = {name: np.asarray(value, dtype=np.float64) for name, value in params.items()}
    rng = np.random.default_rng(seed)
    names = list(params)
    total = sum(p.size for p in params.values())
    flat = np.concatenate([params[n].reshape(-1) for n in names]) if names else np.zeros(0)
    x_scale = max(1.0, float(np.sqrt(np.mean(flat * flat)))) if total else 1.0
    h = float((x_scale + RELATIVE_STEP["central"] * x_scale) - x_scale)
    # The directions u, then the points p + h u of every direction, then p - h u: one block,
    # filled in place (each fresh temporary of this size costs a page fault per 4 KiB).
    block = np.empty((3, directions, total))
    rng.standard_normal(out=block[0])  # the same stream as one draw per direction
    block[0] /= np.linalg.norm(block[0], axis=1, keepdims=True)
    np.multiply(block[0], h, out=block[1])
    np.negative(block[1], out=block[2])
    block[1:] += flat
    moved = block[1:].reshape(2 * directions, total)
    units = [_split(row, names, params) for row in block[0]]
    points = [_split(row, names, params) for row in moved]
    base = loss(params)
    base_units = probe(params) if probe is not None else {}
    result = FiniteDifference(method="directional", directions=units, directional_step=h)
    crossings: list[str | None] = [None] * len(points)
    if stacked is not None and not _stacked_agrees(stacked, loss, points[0], base, result):
        stacked = None
    if stacked is not None:
        stack = _split(moved, names, params, leading=(len(points),))
        if base_units:
            values, nets = stacked(stack, kinks=True)
            crossings = crossed_units_stacked(base_units, nets) or crossings
        else:
            values = stacked(stack)
    else:
        values = []
        for s, point in enumerate(points):
            values.append(loss(point))
            if base_units and probe is not None:
                crossings[s] = crossed_unit(base_units, probe(point))
    plus, minus = np.asarray(values, dtype=np.float64).reshape(2, directions)
    derivative = (plus - minus) / (2.0 * h)
    second = plus + minus - 2.0 * base
    result.directional = derivative
    result.directional_errors = central_error(derivative, second, h, x_scale, loss_rounding(base))
    for s, unit in enumerate(crossings):
        if unit is not None:
            result.directional_kinks.setdefault(s % directions, unit)
    result.evaluations = 1 + 2 * directions
    return result


def _split(
    flat: NDArray[Any], names: list[str], params: Params, leading: tuple[int, ...] = ()
) -> dict[str, NDArray[Any]]:
    """Views of `flat` (leading axes, then every tensor's entries in `names` order) as tensors."""
    parts: dict[str, NDArray[Any]] = {}
    start = 0
    for name in names:
        size = params[name].size
        parts[name] = flat[..., start : start + size].reshape(leading + params[name].shape)
        start += size
    return parts


def _stacked_agrees(
    stacked: Callable[..., Any],
    loss: Callable[[Params], float],
    point: Params,
    base: float,
    result: FiniteDifference,
) -> bool:
    """The stacked form against the plain loss at the first point (see Evaluator._batched_agrees)."""
    plain = float(loss(point))
    batched = float(np.asarray(stacked({n: v[None] for n, v in point.items()}))[0])
    if agrees(plain, batched, base, 0.0):
        return True
    result.notes.append(
        f"the stacked evaluation disagreed with the plain loss ({batched:.17g} vs {plain:.17g}): used the plain loop"
    )
    return False
