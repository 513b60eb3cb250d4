"""Losses of many single-entry perturbations of one MLP at once: the hot path of refbp's
finite differences.

Network s differs from `params` in one entry of one tensor: entry flat_indices[s] moved by
deltas[s] (real, or imaginary for the complex step). The forward at `params` is computed
once (refbp.perturbed.base) and reused: the layers before the perturbed one are not
recomputed, the perturbed layer changes in one unit (refbp.perturbed.moved), and the change
entering the next layer is rank one.

The fast path, where at most one hidden layer follows the perturbed one: the output nets
come from that rank-one change, or from a short power series in it through the hidden layer
(refbp.perturbed.series_paths, for every elementwise activation), with no product over a
hidden layer and no kinked nets. The networks that may move a kinked unit across 0
(refbp.perturbed.kink_margins) are redone by the direct path, and only their nets go to the
kink probe (refbp.loss_forms.NetsOfRows). The direct path, everywhere else: the layers after
the next one are full products, and a sigmoid layer may take e^-net from a series.

numpy only, and laid out for numpy's speed:
  - unit-major: a layer's values for S networks of B examples are one [units, S*B] array,
    so every elementwise pass runs along rows of S*B contiguous numbers (numpy's cost per
    inner loop dwarfs 64 multiplications) and each full layer is a single matrix product;
  - work arrays kept for the life of the thread (refbp.perturbed.workspace), activations in
    place where they can be (refbp.perturbed.activations_in_place).
"""

from __future__ import annotations

import numpy as np

from refbp.loss_forms import NetsOfRows

from .activations_in_place import activate_in_place, sigmoid_of_exp
from .base import Base
from .kink_margins import may_cross
from .moved import Moved, moved, runs
from .rank_one import rank_one, signs
from .series_paths import exp_factored, output_nets_by_series
from .stacked_losses import loss_values_in_place
from .workspace import stacked_view, work_array

# Past this share of a chunk's networks near a kink, the whole chunk takes the direct path.
LARGEST_REDONE_SHARE = 0.5
# Floats per [S, B] array of the moved units (8 MiB): a call with more networks runs in parts.
MOVED_FLOATS = 2**20


class PerturbedLosses:
    """fn(name, flat_indices, deltas, kinks=False) -> losses [S]; with kinks, also
    {layer name: sign of the stacked net [S, B, n], int8} of the kinked layers from the
    perturbed one on (the earlier ones are the base's), or NetsOfRows of the networks the fast
    path could not rule out. `params` must not change while this is in use.
    Without kinks a call may hold any number of perturbations: it runs them in chunks of
    chunks[name] (work arrays that stay in the core's cache); with kinks, one chunk per call
    (the nets it returns are as large as the call). The direct path runs a chunk in parts of
    direct_chunks[layer] networks (its arrays are as wide as the hidden layers)."""

    def __init__(self, model, loss, params: dict, inputs, targets, chunks=None, direct_chunks=None):
        self.model, self.loss, self.params, self.targets = model, loss, params, targets
        self.chunks = chunks or {}
        self.direct_chunks = direct_chunks or {}
        self.base = Base(model, params, inputs)
        self.batch = inputs.shape[0]
        # (first, end, path) of each chunk of the last call: which code path computed it, so
        # that refbp.oracle.fd's agreement check can sample every path (refbp.oracle.fd.agreement).
        self.chunk_paths: list = []
        self._path: list = []
        self._redone: np.ndarray = np.empty(0, dtype=np.intp)  # networks of the last chunk redone near a kink

    def __call__(self, name: str, flat_indices, deltas, kinks: bool = False):
        flat_indices, deltas = np.asarray(flat_indices), np.asarray(deltas)
        part = max(self.chunks.get(name) or 1, MOVED_FLOATS // self.batch)
        if not kinks and len(deltas) > part:  # the moved units' [S, B] arrays in parts: memory bounded
            parts, paths = [], []
            for start in range(0, len(deltas), part):
                parts.append(self(name, flat_indices[start : start + part], deltas[start : start + part]))
                paths += [(start + a, start + b, path) for a, b, path in self.chunk_paths]
            self.chunk_paths = paths
            return np.concatenate(parts)
        change = moved(self.base, name, flat_indices, deltas)
        if kinks:
            outputs, nets = self.outputs(change, want_nets=True)
            self.chunk_paths = self._paths_of_chunk(0, len(change.units))
            return loss_values_in_place(self.loss, outputs, self.targets), nets
        count = len(change.units)
        chunk = self.chunks.get(name) or count
        self.chunk_paths = []
        if count == 0:
            return np.empty(0, dtype=change.dtype)
        if count <= chunk:
            values = loss_values_in_place(self.loss, self.outputs(change)[0], self.targets)
            self.chunk_paths = self._paths_of_chunk(0, count)
            return values
        values = np.empty(count, dtype=change.dtype)
        for start in range(0, count, chunk):
            outputs, _ = self.outputs(change.part(slice(start, start + chunk)))
            values[start : start + chunk] = loss_values_in_place(self.loss, outputs, self.targets)
            self.chunk_paths += self._paths_of_chunk(start, min(start + chunk, count))
        return values

    @property
    def path(self) -> str:
        """The code path of the last `outputs` call, e.g. "rank-one by runs, exp series"."""
        return ", ".join(self._path)

    def _paths_of_chunk(self, start: int, stop: int) -> list:
        """(first, end, path) of the chunk just computed, and one entry per network of it that
        the direct path redid near a kink (a path of its own, for the agreement check)."""
        paths = [(start, stop, self.path)]
        if self._redone.size:
            first = start + int(self._redone[0])
            paths.append((first, first + 1, "direct near a kink"))
        return paths

    def outputs(self, change: Moved, want_nets: bool = False):
        """The outputs [S, B, O] of the perturbed networks (a work buffer: use it before the
        next call), and the kinked nets when wanted (copies; NetsOfRows from the fast path)."""
        self._path, self._redone = [], np.empty(0, dtype=np.intp)
        fast = self._fast_outputs(change, want_nets)
        if fast is not None:
            return fast
        self._path = []
        chunk = self.direct_chunks.get(change.layer) or len(change.units)
        if len(change.units) <= chunk:
            return self._direct_outputs(change, want_nets)
        return self._direct_in_parts(change, want_nets, chunk)

    def _fast_outputs(self, change: Moved, want_nets: bool):
        """The fast path (see the module docstring), or None where it does not apply: the moved
        layer is the output layer or a softmax, more than one hidden layer follows it, the
        output layer is kinked and its nets are wanted, the series is refused, or most of the
        chunk's networks are near a kink."""
        activations, base = self.model.activations, self.base
        depth, after = len(activations), change.layer + 1
        if change.delta_out is None or depth - after not in (1, 2) or (want_nets and activations[-1].kinked):
            return None
        hidden_after = depth - after == 2
        redo = may_cross(base, change, activations[change.layer].kinked, hidden_after and activations[after].kinked)
        if redo.any() and redo.mean() > LARGEST_REDONE_SHARE:
            return None
        width = self.params[f"layers.{depth - 1}.weight"].shape[0]
        outputs = work_array("outputs", change.delta_out.shape + (width,), change.dtype)
        if not hidden_after:
            self._layer_after(after, change, outputs.reshape(-1, width), False, {}, True)
        elif output_nets_by_series(base, after, change, outputs):
            self._path.append(f"output series through {activations[after].name}")
            outputs = self._activate_outputs(outputs, False, {})
        else:
            return None
        rows = np.flatnonzero(redo)
        nets: dict = {}
        if rows.size:
            outputs, path = outputs.copy(), list(self._path)  # the direct path reuses the work arrays
            outputs[rows], nets = self._direct_outputs(change.part(rows), want_nets)
            self._path, self._redone = path, rows
        return outputs, (NetsOfRows(rows, nets) if want_nets else {})

    def _direct_in_parts(self, change: Moved, want_nets: bool, chunk: int):
        """The direct path over `change` in parts of `chunk` networks: the outputs gathered in
        one array, the kinked nets joined."""
        count = len(change.units)
        outputs, parts = None, []
        for start in range(0, count, chunk):
            part, nets = self._direct_outputs(change.part(slice(start, start + chunk)), want_nets)
            if outputs is None:
                outputs = work_array("outputs of parts", (count,) + part.shape[1:], part.dtype)
            outputs[start : start + chunk] = part
            parts.append(nets)
        return outputs, {name: np.concatenate([nets[name] for nets in parts]) for name in parts[0]}

    def _direct_outputs(self, change: Moved, want_nets: bool):
        """The direct path: every layer after the next one a full product."""
        model, params, base = self.model, self.params, self.base
        layer, depth, units, dtype = change.layer, len(model.activations), change.units, change.dtype
        activation = model.activations[layer]
        nets: dict = {}
        if layer + 1 == depth:
            self._path.append("output layer moved")
            return self._output_layer_moved(units, change.net_column, dtype, want_nets, nets), nets
        if want_nets and activation.kinked:
            nets[f"layers.{layer}.net"] = stacked_view(
                signs(base.with_column("net", layer, "nets", units, change.net_column, dtype)), self.batch
            )
        if change.delta_out is None:  # softmax: every unit of the layer moves
            self._path.append("whole layer")
            out = self._activate(
                layer, base.with_column("net", layer, "nets", units, change.net_column, dtype), False, {}
            )
        else:
            # One unit moved: the next layer's net changes by a rank-one term.
            layer += 1
            width = params[f"layers.{layer}.weight"].shape[0]
            if layer + 1 == depth:  # straight into the output layer, written example-major
                outputs = work_array("outputs", change.delta_out.shape + (width,), dtype)
                self._layer_after(layer, change, outputs.reshape(-1, width), want_nets, nets, True)
                return outputs, nets
            net = work_array(f"net{layer}", (width, change.delta_out.size), dtype)
            out = self._layer_after(layer, change, net, want_nets, nets, False)
        for i in range(layer + 1, depth - 1):
            weight, bias = params[f"layers.{i}.weight"], params.get(f"layers.{i}.bias")
            net = work_array(f"net{i}", (weight.shape[0], out.shape[1]), dtype)
            np.matmul(weight, out, out=net)  # every (network, example) column in one product
            if bias is not None:
                net += bias[:, None]
            out = self._activate(i, net, want_nets, nets)
        # The output layer's product is written example-major, [S*B, O]: the losses reduce
        # over each network's outputs, and softmax over each example's.
        weight, bias = params[f"layers.{depth - 1}.weight"], params.get(f"layers.{depth - 1}.bias")
        count = out.shape[1] // self.batch
        outputs = work_array("outputs", (count, self.batch, weight.shape[0]), dtype)
        np.matmul(out.T, weight.T, out=outputs.reshape(-1, weight.shape[0]))
        if bias is not None:  # repeated to the outputs' shape: a broadcast along rows of O is slower
            outputs += base.tiled("output bias", depth - 1, count, True).reshape(outputs.shape)
        return self._activate_outputs(outputs, want_nets, nets), nets

    def _activate(self, layer: int, net, want_nets: bool, nets: dict):
        """The activation of a unit-major [n, S*B] layer."""
        activation = self.model.activations[layer]
        if want_nets and activation.kinked:
            nets[f"layers.{layer}.net"] = stacked_view(signs(net), self.batch)
        if not activation.elementwise:  # softmax: over each network's and example's units, not along a row
            out = activation.forward(np, stacked_view(net, self.batch))
            return np.ascontiguousarray(out.transpose(2, 0, 1)).reshape(net.shape)
        return activate_in_place(activation, net)

    def _activate_outputs(self, outputs, want_nets: bool, nets: dict):
        """The output layer's activation of example-major nets [S, B, O], in place where it can be."""
        depth = len(self.model.activations)
        activation = self.model.activations[depth - 1]
        if want_nets and activation.kinked:
            nets[f"layers.{depth - 1}.net"] = signs(outputs)
        if activation.elementwise:
            return activate_in_place(activation, outputs)
        return activation.forward(np, outputs)

    def _output_layer_moved(self, units, net_column, dtype, want_nets: bool, nets: dict):
        """The outputs [S, B, O] when the output layer itself was perturbed: its unit units[s]
        has net net_column[s] in network s, every other output is the base's."""
        layer = len(self.model.activations) - 1
        activation = self.model.activations[layer]
        count = net_column.shape[0]
        base = self.base.forward
        outputs = work_array("outputs", (count, self.batch, base.nets[layer].shape[1]), dtype)
        moved_entries = np.arange(count)[:, None], np.arange(self.batch), units[:, None]
        if activation.elementwise and not (want_nets and activation.kinked):
            np.copyto(outputs, base.outs[layer])
            outputs[moved_entries] = activation.forward(np, net_column)
            return outputs
        np.copyto(outputs, base.nets[layer])
        outputs[moved_entries] = net_column
        return self._activate_outputs(outputs, want_nets, nets)

    def _layer_after(self, layer: int, change: Moved, net, want_nets: bool, nets: dict, example_major: bool):
        """Layer `layer` of every network, the one after `change.layer`: its net is the base's
        plus weight[:, units[s]] * delta_out[s] in network s, then the activation. `net` is
        the work array to fill: unit-major [n, S*B], or example-major [S*B, n] for the output
        layer, where the activations are left."""
        activation = self.model.activations[layer]
        weight = self.params[f"layers.{layer}.weight"]
        assert change.delta_out is not None  # a hidden layer moved: its outs changed
        count = change.delta_out.shape[0]
        if not (want_nets and activation.kinked) and exp_factored(self.base, layer, change, net, example_major):
            self._path.append("exp series")
            return sigmoid_of_exp(net)
        self._path.append("rank-one " + ("gathered" if runs(change.units) is None else "by runs"))
        rank_one(net, weight, change.units, change.delta_out, example_major)
        net += self.base.tiled("nets", layer, count, example_major)
        if not example_major:
            return self._activate(layer, net, want_nets, nets)
        outputs = net.reshape(count, self.batch, -1)
        activated = self._activate_outputs(outputs, want_nets, nets)
        if activated is not outputs:  # softmax gives a new array
            np.copyto(outputs, activated)
        return net
