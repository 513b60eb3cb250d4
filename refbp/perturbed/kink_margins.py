"""Which perturbed networks may move a kinked unit (relu family at 0) across 0, decided from
margins computed once per base instead of from every network's nets; numpy only.

  - the moved unit itself, where its layer is kinked: its moved net (which the form has
    anyway) against the base's side of 0;
  - the layer after it, where kinked: in a network that moves unit j of the layer before by
    delta_out, that layer's net moves by weight[:, j] delta_out, so unit v reaches 0 at
    delta_out = -z[v] / weight[v, j]. The nearest such point on each side of 0, per (j,
    example), is that network's margin.

Both keep a unit's rounding out of the margin: refbp's plain forward computes each net in
another order of additions, so a net within NET_ROUNDING_ULPS ulps of the sum of its terms'
magnitudes from 0 counts as at 0, and the margins shrink by the moved net's own rounding
(which the plain forward's delta_out may carry). A network inside every margin crosses no kink, and its
losses may come from the linear pieces (refbp.perturbed.activation_change); every other one
is redone by the direct path, whose nets the kink probe compares with the base's.
"""

from __future__ import annotations

import numpy as np

from .base import Base
from .moved import Moved
from .workspace import gathered, work_array

EPS = float(np.finfo(np.float64).eps)
NET_ROUNDING_ULPS = 64
# A delta_out within this share of its margin counts as reaching it.
MARGIN_SLACK = 2.0**-40
# Floats of the [units, directions, examples] array the margins are computed through.
BLOCK_FLOATS = 2**20


def net_rounding(base: Base, layer: int) -> np.ndarray:
    """[B, n]: how far refbp's plain forward may put each of `layer`'s nets from the base's by
    rounding alone: NET_ROUNDING_ULPS ulps of the sum of |input| |weight| (+ |bias|)."""
    key = ("net rounding", layer)
    if key not in base.derived:
        weight = np.abs(base.params[f"layers.{layer}.weight"])
        bias = base.params.get(f"layers.{layer}.bias")
        magnitude = np.abs(base.values("inputs", layer)) @ weight.T
        if bias is not None:
            magnitude += np.abs(bias)
        base.derived[key] = NET_ROUNDING_ULPS * EPS * magnitude
    return base.derived[key]


def margins(base: Base, layer: int) -> tuple[np.ndarray, np.ndarray]:
    """(up, down), each [J, B]: the largest delta_out > 0 (up) and -delta_out (down) that moves
    unit j of the layer before `layer` without any of `layer`'s nets reaching 0 (less
    MARGIN_SLACK of it)."""
    key = ("kink margins", layer)
    if key not in base.derived:
        weight = np.asarray(base.params[f"layers.{layer}.weight"], dtype=np.float64)  # [V, J]
        net = np.asarray(base.forward.nets[layer], dtype=np.float64).T  # [V, B]
        room = np.maximum(np.abs(net) - net_rounding(base, layer).T, 0.0)  # [V, B]
        units, directions = weight.shape
        up = np.empty((directions, net.shape[1]))
        down = np.empty_like(up)
        block = max(1, BLOCK_FLOATS // max(1, units * net.shape[1]))
        with np.errstate(divide="ignore", invalid="ignore"):
            for first in range(0, directions, block):
                columns = weight[:, first : first + block, None]  # [V, j, 1]
                reach = room[:, None, :] / np.abs(columns)  # delta_out at which unit v meets 0
                reach[np.broadcast_to(columns == 0, reach.shape)] = np.inf  # a zero weight never moves it
                at_zero = (room == 0)[:, None, :]
                toward = columns * net[:, None, :]  # < 0: a positive delta_out moves v toward 0
                up[first : first + block] = np.min(np.where((toward < 0) | at_zero, reach, np.inf), axis=0)
                down[first : first + block] = np.min(np.where((toward > 0) | at_zero, reach, np.inf), axis=0)
        # The plain forward's delta_out may differ by the moved net's own rounding (times the
        # activation's slope, at most 1 for every elementwise activation), and a delta_out this
        # close to its margin counts as reaching it.
        moved_rounding = net_rounding(base, layer - 1).T  # [J, B]
        base.derived[key] = tuple(
            np.maximum(margin - moved_rounding, 0.0) * (1.0 - MARGIN_SLACK) for margin in (up, down)
        )
    return base.derived[key]


def may_cross(base: Base, change: Moved, moved_kinked: bool, next_kinked: bool) -> np.ndarray:
    """[S] bool: the networks of `change` that may move a kinked unit across 0 (or onto it), in
    the moved layer (when `moved_kinked`) or the layer after it (when `next_kinked`)."""
    units, layer = change.units, change.layer
    crossing = np.zeros(len(units), dtype=bool)
    if moved_kinked:  # safe where the moved net keeps the base's sign, beyond the net's rounding
        sign, rounding = _moved_unit_tests(base, layer)
        side = gathered("kink side", sign, units, np.float64)
        side *= change.net_column
        crossing |= np.any(side <= gathered("kink rounding", rounding, units, np.float64), axis=1)
    if next_kinked:
        up, down = margins(base, layer + 1)
        delta = change.delta_out
        assert delta is not None  # a layer follows: the moved unit's out changed
        reach = delta > gathered("kink margin", up, units, np.float64)
        falling = np.negative(delta, out=work_array("kink fall", delta.shape, delta.dtype))
        reach |= falling > gathered("kink margin", down, units, np.float64)
        crossing |= np.any(reach, axis=1)
    return crossing


def _moved_unit_tests(base: Base, layer: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit-major [n, B]: the sign of each base net of `layer`, and its rounding."""
    key = ("moved unit tests", layer)
    if key not in base.derived:
        base.derived[key] = (
            np.sign(base.unit_major("nets", layer)).astype(np.float64),
            np.ascontiguousarray(net_rounding(base, layer).T),
        )
    return base.derived[key]
