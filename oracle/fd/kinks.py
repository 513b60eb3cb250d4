"""Kinks (relu family at 0): a perturbation that moves some unit's pre-activation to the
other side of 0 (or onto it, or off it) straddles a non-differentiable point.

Each perturbed point is compared with the unperturbed one, so a unit that sits exactly at
0 and is moved counts too. (A unit that crosses 0 and comes back between two points of a
stencil is not seen; the stencils here span at most 8 steps.)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray


def unit_name(layer: str, index: tuple[Any, ...]) -> str:
    return layer + "".join(f"[{int(i)}]" for i in index)


def crossed_unit(base: dict[str, NDArray[Any]], moved: dict[str, Any]) -> str | None:
    """The first unit whose pre-activation changed side of 0 between `base` and `moved`."""
    for name, a in base.items():
        crossed = np.sign(np.asarray(moved[name])) != np.sign(a)
        if crossed.any():
            return unit_name(name, np.unravel_index(int(np.flatnonzero(crossed)[0]), a.shape))
    return None


def crossed_units_stacked(base: dict[str, NDArray[Any]], stacked: dict[str, Any]) -> list[str | None]:
    """For nets stacked over S perturbations ({layer: [S, *shape]}, or only their signs): per
    perturbation, the first unit that changed side of 0, or None."""
    found: list[str | None] = []
    for name, nets in stacked.items():
        a = base[name]
        crossed, per_network = _crossed(np.asarray(nets), a)
        if not found:
            found = [None] * nets.shape[0]
        for s in np.flatnonzero(per_network):
            if found[s] is None:
                found[s] = unit_name(name, np.unravel_index(int(np.argmax(crossed[s])), a.shape))
    return found


def _crossed(nets: NDArray[Any], base: NDArray[Any]) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """(sign(nets) != sign(base) as [S, *shape], whether network s has any such unit [S]),
    computed in the nets' own memory order: a form may hand a transposed view of its
    unit-major work array, and comparing or reducing across its strides costs several times
    more than along them."""
    order = tuple(int(i) for i in np.argsort([-abs(stride) for stride in nets.strides], kind="stable"))
    in_memory = nets.transpose(order)
    base_sign = np.broadcast_to(np.sign(base).astype(nets.dtype, copy=False), nets.shape).transpose(order)
    crossed = np.sign(in_memory) != base_sign
    network_axis = order.index(0)
    # The axes outside the network's first, each a reduction along whole rows, then the small rest.
    outer = crossed.reshape((-1,) + crossed.shape[network_axis:]) if network_axis else crossed[None]
    per_network = np.logical_or.reduce(outer, axis=0).reshape(nets.shape[0], -1).any(axis=1)
    return crossed.transpose(np.argsort(order)), per_network
