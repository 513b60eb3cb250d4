"""Losses of many single-entry perturbations of one MLP at once: the hot path of refbp's
finite differences.

Network s differs from `params` in one entry of one tensor: entry flat_indices[s] moved by
deltas[s] (real, or imaginary for the complex step). The forward at `params` is computed
once and reused: the layers before the perturbed one are not recomputed, the perturbed
layer changes in one unit, and the change entering the next layer is rank one; only the
layers after that are full products.

numpy only, and laid out for numpy's speed:
  - unit-major: a layer's values for S networks of B examples are one [units, S*B] array,
    so every elementwise pass runs along rows of S*B contiguous numbers (numpy's cost per
    inner loop dwarfs 64 multiplications) and each full layer is a single matrix product;
  - work arrays kept for the life of the thread, activations in place where they can be:
    a fresh array of a few hundred KiB is a fresh mapping from glibc, and each of its 4 KiB
    pages faults on first touch (about 3 us each on the VMs this was measured on: 650-950
    faults, 2-3 ms, of a 15 ms check of 32-64-64-10 when every check had its own arrays).
"""

from __future__ import annotations

import itertools
import math
import threading

import numpy as np

# A perturbed chunk whose networks move more units than this gets its rank-one change in
# one gathered product; fewer, one product per run of networks that share a unit.
MAX_RUNS = 16


class PerturbedLosses:
    """fn(name, flat_indices, deltas, kinks=False) -> losses [S]; with kinks, also
    {layer name: stacked net [S, B, n]} of the kinked layers from the perturbed one on (the
    earlier ones are the base's). `params` must not change while this is in use."""

    def __init__(self, model, loss, params: dict, inputs, targets):
        self.model, self.loss, self.params, self.targets = model, loss, params, targets
        self.base = model.forward(np, params, inputs)
        self.batch = inputs.shape[0]
        self._token = next(_TOKENS)  # which instance last filled a tiled base (ids are reused, tokens never)

    def __call__(self, name: str, flat_indices, deltas, kinks: bool = False):
        outputs, nets = self.outputs(name, np.asarray(flat_indices), np.asarray(deltas), want_nets=kinks)
        values = self.loss.values_in_place(outputs, self.targets)
        return (values, nets) if kinks else values

    def outputs(self, name: str, flat_indices, deltas, want_nets: bool = False):
        """The outputs [S, B, O] of the perturbed networks (a work buffer: use it before the
        next call), and the kinked nets when wanted (copies)."""
        model, base, params = self.model, self.base, self.params
        _, index, kind = name.split(".")
        layer, depth = int(index), len(model.activations)
        x = base.inputs if layer == 0 else base.outs[layer - 1]
        weight = params[f"layers.{layer}.weight"]
        if kind == "weight":
            units = flat_indices // weight.shape[1]
            change = deltas[:, None] * x[:, flat_indices % weight.shape[1]].T
        else:
            units, change = flat_indices, deltas[:, None]
        dtype = np.result_type(base.nets[layer], deltas)
        net_column = base.nets[layer][:, units].T + change  # [S, B]: the one unit that moved, per network
        activation = model.activations[layer]
        nets = {}
        if want_nets and activation.kinked:
            nets[f"layers.{layer}.net"] = _stacked_view(
                self._with_column("net", layer, "nets", units, net_column, dtype), self.batch).copy()
        if not activation.elementwise:  # softmax: every unit of the layer moves
            out = self._activate(layer, self._with_column("net", layer, "nets", units, net_column, dtype), False, {})
        elif layer + 1 == depth:
            out = self._with_column("out", layer, "outs", units, activation.forward(np, net_column), dtype)
        else:
            delta_out = activation.forward(np, net_column) - base.outs[layer][:, units].T
            layer += 1
            net = _work_array(f"net{layer}", (params[f"layers.{layer}.weight"].shape[0], delta_out.size), dtype)
            self._rank_one(net, params[f"layers.{layer}.weight"], units, delta_out)
            net += self._base_tiled("nets", layer, delta_out.shape[0])
            out = self._activate(layer, net, want_nets, nets)
        if layer + 1 == depth:  # the perturbation reached the output layer directly: back to one network after another
            outputs = _work_array("outputs", (out.shape[1] // self.batch, self.batch, out.shape[0]), dtype)
            np.copyto(outputs, _stacked_view(out, self.batch))
            return outputs, nets
        for i in range(layer + 1, depth - 1):
            weight, bias = params[f"layers.{i}.weight"], params.get(f"layers.{i}.bias")
            net = _work_array(f"net{i}", (weight.shape[0], out.shape[1]), dtype)
            np.matmul(weight, out, out=net)  # every (network, example) column in one product
            if bias is not None:
                net += bias[:, None]
            out = self._activate(i, net, want_nets, nets)
        # The output layer's product is written example-major, [S*B, O]: the losses reduce
        # over each network's outputs, and softmax over each example's.
        weight, bias = params[f"layers.{depth - 1}.weight"], params.get(f"layers.{depth - 1}.bias")
        outputs = _work_array("outputs", (out.shape[1] // self.batch, self.batch, weight.shape[0]), dtype)
        net = outputs.reshape(-1, weight.shape[0])
        np.matmul(out.T, weight.T, out=net)
        if bias is not None:
            net += bias
        activation = model.activations[depth - 1]
        if want_nets and activation.kinked:
            nets[f"layers.{depth - 1}.net"] = outputs.copy()
        if activation.elementwise:
            return activation.forward_in_place(outputs), nets
        return activation.forward(np, outputs), nets

    def _activate(self, layer: int, net, want_nets: bool, nets: dict):
        """The activation of a unit-major [n, S*B] layer."""
        activation = self.model.activations[layer]
        if want_nets and activation.kinked:
            nets[f"layers.{layer}.net"] = _stacked_view(net, self.batch).copy()
        if not activation.elementwise:  # softmax: over each network's and example's units, not along a row
            out = activation.forward(np, _stacked_view(net, self.batch))
            return np.ascontiguousarray(out.transpose(2, 0, 1)).reshape(net.shape)
        return activation.forward_in_place(net)

    @staticmethod
    def _rank_one(net, weight, units, delta_out) -> None:
        """net[:, s*B + b] = weight[:, units[s]] * delta_out[s, b]: what moving unit units[s]
        of the layer before by delta_out[s] adds to this layer's net, before its base."""
        count = delta_out.shape[0]
        starts = np.flatnonzero(units[1:] != units[:-1]) + 1
        if len(starts) >= MAX_RUNS:
            np.multiply(weight[:, units][:, :, None], delta_out[None],
                        out=net.reshape(net.shape[0], count, -1))
            return
        batch = delta_out.shape[1]
        for first, end in zip(np.concatenate([[0], starts]), np.concatenate([starts, [count]])):
            np.multiply(weight[:, units[first], None], delta_out[first:end].reshape(1, -1),
                        out=net[:, first * batch:end * batch])

    def _with_column(self, role: str, layer: int, which: str, units, column, dtype) -> np.ndarray:
        """S copies of the base's `which` (nets or outs) of `layer`, unit-major [n, S*B], with
        unit units[s] of copy s replaced by column[s]."""
        count, batch = column.shape
        stacked = _work_array(role, (getattr(self.base, which)[layer].shape[1], count * batch), dtype)
        stacked[...] = self._base_tiled(which, layer, count)
        stacked[units[:, None], np.arange(count)[:, None] * batch + np.arange(batch)] = column
        return stacked

    def _base_tiled(self, which: str, layer: int, count: int) -> np.ndarray:
        """The base's nets or outs of `layer`, unit-major and repeated for `count` networks: [n, count*B]."""
        base = getattr(self.base, which)[layer]
        key = ("tiled", which, layer)
        tiled = _work_array(key, (base.shape[1], count * self.batch), base.dtype)
        filled = _WORKSPACE.__dict__.setdefault("filled", {})
        if filled.get(key) != (self._token, count):
            np.copyto(tiled.reshape(base.shape[1], count, self.batch), base.T[:, None, :])
            filled[key] = (self._token, count)
        return tiled


_WORKSPACE = threading.local()
_TOKENS = itertools.count()


def _work_array(role, shape: tuple, dtype) -> np.ndarray:
    """A work array of `shape` for `role`: the same memory in every call from this thread
    (grown when too small), so its pages fault once per process, not once per check."""
    buffers = _WORKSPACE.__dict__.setdefault("buffers", {})
    size = math.prod(shape)
    key = (role, np.dtype(dtype))
    buffer = buffers.get(key)
    if buffer is None or buffer.size < size:
        buffer = buffers[key] = np.empty(size, dtype=dtype)
    return buffer[:size].reshape(shape)


def _stacked_view(unit_major, batch: int):
    """[n, S*B] unit-major -> the [S, B, n] view the losses and kink probes take."""
    units, columns = unit_major.shape
    return unit_major.reshape(units, columns // batch, batch).transpose(1, 2, 0)
