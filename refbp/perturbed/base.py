"""The unperturbed network that every perturbed one differs from: refbp's forward at
`params`, computed once, and what the hot path derives from it once (unit-major copies,
copies tiled for a chunk of networks, e^-net of sigmoid layers, largest weights)."""

from __future__ import annotations

import numpy as np

from .activations_in_place import exp_of_negated_net
from .workspace import TOKENS, filled_by, work_array


class Base:
    def __init__(self, model, params: dict, inputs):
        self.model, self.params = model, params
        self.forward = model.forward(np, params, inputs)  # refbp.nn's MLPCache
        self.batch = inputs.shape[0]
        self.token = next(TOKENS)
        self.derived: dict = {}  # computed once from the base: see the users of each key

    def unit_major(self, which: str, layer: int) -> np.ndarray:
        """The base's inputs of `layer` (the outs of the layer before), or its nets or outs,
        unit-major and contiguous [n, B]: a gather of units then gives [S, B] rows."""
        key = (which, layer)
        if key not in self.derived:
            if which == "inputs":
                values = self.forward.inputs if layer == 0 else self.forward.outs[layer - 1]
            else:
                values = getattr(self.forward, which)[layer]
            self.derived[key] = np.ascontiguousarray(values.T)
        return self.derived[key]

    def tiled(self, which: str, layer: int, count: int, example_major: bool = False) -> np.ndarray:
        """`values(which, layer)` repeated for `count` networks, in a work array: unit-major
        [n, count*B] or example-major [count*B, n]. Refilled only when another base or count
        used the work array last."""
        base = self.values(which, layer)
        key = ("tiled", which, layer, example_major)
        units = base.shape[1]
        shape = (count * self.batch, units) if example_major else (units, count * self.batch)
        tiled = work_array(key, shape, base.dtype)
        filled = filled_by()
        if filled.get(key) != (self.token, count):
            if example_major:
                np.copyto(tiled.reshape(count, self.batch, units), base[None])
            else:
                np.copyto(tiled.reshape(units, count, self.batch), base.T[:, None, :])
            filled[key] = (self.token, count)
        return tiled

    def values(self, which: str, layer: int) -> np.ndarray:
        """[B, n]: the base's inputs (the outs of the layer before), nets, outs or
        exp_of_negated_nets of `layer`, or its bias (for every example)."""
        if which == "inputs":
            return self.forward.inputs if layer == 0 else self.forward.outs[layer - 1]
        if which == "output bias":
            bias = self.params[f"layers.{layer}.bias"]
            return np.broadcast_to(bias, (self.batch,) + bias.shape)
        if which != "exp_of_negated_nets":
            return getattr(self.forward, which)[layer]
        key = (which, layer)
        if key not in self.derived:
            self.derived[key] = exp_of_negated_net(np.array(self.forward.nets[layer], dtype=np.float64))
        return self.derived[key]

    def largest_weight(self, layer: int) -> float:
        key = ("largest weight", layer)
        if key not in self.derived:
            self.derived[key] = float(np.max(np.abs(self.params[f"layers.{layer}.weight"]), initial=0.0))
        return self.derived[key]

    def with_column(self, role: str, layer: int, which: str, units, column, dtype) -> np.ndarray:
        """S copies of the base's `which` (nets or outs) of `layer`, unit-major [n, S*B], with
        unit units[s] of copy s replaced by column[s]."""
        count, batch = column.shape
        stacked = work_array(role, (getattr(self.forward, which)[layer].shape[1], count * batch), dtype)
        stacked[...] = self.tiled(which, layer, count)
        stacked[units[:, None], np.arange(count)[:, None] * batch + np.arange(batch)] = column
        return stacked
