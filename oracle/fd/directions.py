"""Derivatives of a loss along random directions over chosen entries (a few evaluations for
any number of entries), their step kept clear of the kinks a probe shows.

A direction u has +-1 at each chosen entry (Rademacher) and 0 elsewhere, so that a wrong
entry j of a gradient moves <grad, u> by its whole error, whatever the number of entries
(a unit direction would divide it by sqrt(n)). The derivative of t -> L(p + t u) at 0 is
taken by Richardson on central differences at h, 2h, 4h (refbp.oracle.fd.methods.richardson: 6
evaluations, O(h^6), its truncation measured). The anchors: JAX's `check_grads` (the
derivative along random directions) and torch.autograd.gradcheck's fast mode (one random
projection instead of a column per entry).

Its step: RELATIVE_STEP["richardson"] per entry shrunk by the fourth root of the number of
entries (the derivatives of t -> L(p + t u) grow with it), then kept clear of the kinks of
the probe (a relu unit's net, a bce clamp): every unit's margin |net| over the rate at which
the direction moves it (measured by the probe at +-PROBE_STEP), halved, must cover the whole
stencil (4h). A step so small that the loss's rounding divided by it exceeds `largest_error`
cannot judge: the direction is `clear_step`'s None, and its caller narrows the entries down.

This module knows nothing of the implementation: `losses(points) -> values` and
`nets(points) -> [{unit layer: nets}]` are given (a batched form or a loop).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .kinks import crossed_unit
from .steps import RELATIVE_STEP, loss_rounding

OFFSETS = (1.0, -1.0, 2.0, -2.0, 4.0, -4.0)  # the stencil, in steps
REACH = 4.0  # its widest offset

Params = dict[str, NDArray[Any]]
# nets(points) -> per point, {layer: the kinked units' nets}
Nets = Callable[[list[Params]], Sequence[dict[str, Any]]]
PROBE_STEP = 1e-7  # how far the probe looks to see how fast each unit moves
MARGIN_SHARE = 0.5  # of the nearest unit's distance to its kink, the stencil may cover


@dataclass
class Along:
    """The derivative along one direction: value, estimated error, step; `crossed` names the
    unit a stencil point moved across its kink (None: none did)."""

    derivative: float = float("nan")
    error: float = float("inf")
    step: float = float("nan")
    crossed: str | None = None


def rademacher(params: Params, chosen: dict[str, Any], rng: np.random.Generator) -> Params:
    """{tensor: +-1 at the flat indices `chosen[tensor]`, 0 elsewhere} for every tensor of `params`."""
    direction: Params = {}
    for name, value in params.items():
        u = np.zeros(np.size(value))
        indices = np.asarray(chosen.get(name, ()), dtype=np.int64)
        u[indices] = rng.choice((-1.0, 1.0), size=indices.size)
        direction[name] = u.reshape(np.shape(value))
    return direction


def moved(params: Params, direction: Params, t: float) -> Params:
    """p + t u, as fresh float64 arrays (tensors u does not move are shared, not copied)."""
    return {name: value + t * direction[name] if np.any(direction[name]) else value for name, value in params.items()}


def smooth_step(entries: int) -> float:
    """The step before kinks are considered: Richardson's per-entry step over entries^(1/4)."""
    return float(RELATIVE_STEP["richardson"] / max(1.0, float(entries)) ** 0.25)


def clear_step(
    params: Params,
    direction: Params,
    entries: int,
    nets: Nets,
    base_nets: dict[str, Any],
    largest_error: float,
    base_loss: float,
) -> float | None:
    """The step of the direction's stencil: `smooth_step`, smaller where a unit of the probe
    would be moved across its kink within REACH steps (`nets(points) -> [{layer: nets}]`,
    `base_nets` at `params`); None where no step both clears the kinks and keeps the loss's
    rounding over the step under `largest_error` / 2."""
    h = smooth_step(entries)
    if base_nets:
        ahead, behind = nets([moved(params, direction, PROBE_STEP), moved(params, direction, -PROBE_STEP)])
        room = np.inf
        for layer, base in base_nets.items():
            rate = np.abs(np.asarray(ahead[layer]) - np.asarray(behind[layer])) / (2.0 * PROBE_STEP)
            with np.errstate(divide="ignore", invalid="ignore"):
                reach = np.where(rate > 0, np.abs(base) / rate, np.inf)
            reach = np.where(np.isnan(reach), 0.0, reach)  # a unit moved at an infinite margin: none
            room = min(room, float(np.min(reach, initial=np.inf)))
        h = min(h, MARGIN_SHARE * room / REACH)
    if not h > 2.0 * ROUNDING_FACTOR * loss_rounding(base_loss) / largest_error:
        return None
    return h


# Richardson's value carries the rounding delta / (m h) of each D(mh), times (64 + 10 + 1/4) / 45 < 1.7.
ROUNDING_FACTOR = 1.7


def stencil(params: Params, direction: Params, h: float) -> list[Params]:
    """The points p + k h u of the stencil, in the order of OFFSETS."""
    return [moved(params, direction, k * h) for k in OFFSETS]


def derivative(values: Sequence[float] | NDArray[Any], h: float) -> tuple[float, float]:
    """(derivative, error estimate) from the losses at the stencil's points (OFFSETS' order)."""
    f = np.asarray(values, dtype=np.float64)
    d1, d2, d4 = ((f[k] - f[k + 1]) / (2.0 * m * h) for k, m in ((0, 1), (2, 2), (4, 4)))
    r1, r2 = (4.0 * d1 - d2) / 3.0, (4.0 * d2 - d4) / 3.0
    delta = loss_rounding(float(np.max(np.abs(f)))) if np.all(np.isfinite(f)) else np.inf
    return float((16.0 * r1 - r2) / 15.0), float(abs(r1 - r2) / 15.0 + ROUNDING_FACTOR * delta / h)


def crossing(points: list[Params], nets: Nets, base_nets: dict[str, Any]) -> str | None:
    """The first unit of the probe that a point of `points` moved across its kink (None: none)."""
    if not base_nets:
        return None
    for moved_nets in nets(points):
        unit = crossed_unit(base_nets, moved_nets)
        if unit is not None:
            return unit
    return None
