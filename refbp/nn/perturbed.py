"""Losses of many single-entry perturbations of one MLP at once: the hot path of refbp's
finite differences.

Network s differs from `params` in one entry of one tensor: entry flat_indices[s] moved by
deltas[s] (real, or imaginary for the complex step). The forward at `params` is computed
once and reused: the layers before the perturbed one are not recomputed, the perturbed
layer changes in one unit, and the change entering the next layer is rank one; only the
layers after that are full products.

A sigmoid layer right after the perturbed one is not evaluated value by value where a short
power series gives the same numbers (refbp.nn.series: cut below 2^-60, checked against the
direct forward by the tests and, at two entries of every tensor, by oracle.fd.evaluate):
  - e^-net of a moved unit is the base's e^-net times e^-change, a series in the change;
  - when the output layer comes next, its nets move by a power series in the moved unit's
    change, whose coefficients (through the sigmoid layer and the output layer's weights)
    are computed once per check, so that a network costs outputs x terms multiply-adds.
Everything else (other activations, the complex step, steps too large for a short series)
takes the direct path.

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

import dataclasses
import itertools
import math
import threading

import numpy as np

from . import series

# A perturbed chunk whose networks move more units than this gets its rank-one change in
# one gathered product; fewer, one product per run of networks that share a unit.
MAX_RUNS = 16
# The largest series table kept per sigmoid layer (floats): 32 MiB.
SERIES_FLOATS = 2**22


@dataclasses.dataclass
class Moved:
    """What one call's perturbations do to the perturbed layer, for every network at once
    (small [S, B] arrays): network s moves unit units[s] of `layer` to net net_column[s],
    which changes its out by delta_out[s] (hidden elementwise layers only)."""

    layer: int
    units: np.ndarray
    net_column: np.ndarray
    delta_out: np.ndarray | None
    dtype: np.dtype
    largest_delta_out: float = 0.0  # over the whole call: one series length for every chunk

    def part(self, rows: slice) -> "Moved":
        delta_out = None if self.delta_out is None else self.delta_out[rows]
        # Not dataclasses.replace: this runs once per chunk, and replace costs microseconds.
        return Moved(self.layer, self.units[rows], self.net_column[rows], delta_out, self.dtype, self.largest_delta_out)


class PerturbedLosses:
    """fn(name, flat_indices, deltas, kinks=False) -> losses [S]; with kinks, also
    {layer name: stacked net [S, B, n]} of the kinked layers from the perturbed one on (the
    earlier ones are the base's). `params` must not change while this is in use.
    Without kinks a call may hold any number of perturbations: it runs them in chunks of
    chunks[name] (work arrays that stay in the core's cache); with kinks, one chunk per call
    (the nets it returns are as large as the call)."""

    def __init__(self, model, loss, params: dict, inputs, targets, chunks: dict | None = None):
        self.model, self.loss, self.params, self.targets = model, loss, params, targets
        self.chunks = chunks or {}
        self.base = model.forward(np, params, inputs)
        self.batch = inputs.shape[0]
        self._token = next(_TOKENS)  # which instance last filled a tiled base (ids are reused, tokens never)
        self._cache: dict = {}  # what is computed once from the base: see its users

    def __call__(self, name: str, flat_indices, deltas, kinks: bool = False):
        moved = self.moved(name, np.asarray(flat_indices), np.asarray(deltas))
        if kinks:
            outputs, nets = self.outputs(moved, want_nets=True)
            return self.loss.values_in_place(outputs, self.targets), nets
        count = len(moved.units)
        chunk = self.chunks.get(name) or count
        if count == 0:
            return np.empty(0, dtype=moved.dtype)
        if count <= chunk:
            return self.loss.values_in_place(self.outputs(moved)[0], self.targets)
        values = np.empty(count, dtype=moved.dtype)
        for start in range(0, count, chunk):
            outputs, _ = self.outputs(moved.part(slice(start, start + chunk)))
            values[start:start + chunk] = self.loss.values_in_place(outputs, self.targets)
        return values

    def moved(self, name: str, flat_indices, deltas) -> Moved:
        """Entry flat_indices[s] of tensor `name` moved by deltas[s]: the perturbed layer's one
        changed unit in each network."""
        _, index, kind = name.split(".")
        layer = int(index)
        weight = self.params[f"layers.{layer}.weight"]
        size = self.params[name].size
        if len(flat_indices) and not 0 <= int(flat_indices.min()) <= int(flat_indices.max()) < size:
            # The gathers below clip rather than check (a check costs a buffered copy).
            raise IndexError(f"{name}: entries {flat_indices.min()}..{flat_indices.max()} of a tensor of {size}")
        dtype = np.result_type(self.base.nets[layer], deltas)
        shape = (len(flat_indices), self.batch)
        # Work arrays here too: a whole tensor's [S, B] arrays are large enough to fault.
        units = flat_indices // weight.shape[1] if kind == "weight" else flat_indices
        net_column = _gathered("net column", self._unit_major("nets", layer), units, dtype)
        if kind == "weight":
            change = _gathered("change", self._unit_major("inputs", layer), flat_indices % weight.shape[1], dtype)
            change *= deltas[:, None]
            net_column += change
        else:
            net_column += deltas[:, None]
        activation = self.model.activations[layer]
        if layer + 1 == len(self.model.activations) or not activation.elementwise:
            return Moved(layer, units, net_column, None, dtype)
        out_column = _work_array("out column", shape, dtype)
        np.copyto(out_column, net_column)
        delta_out = activation.forward_in_place(out_column)
        delta_out -= _gathered("base out column", self._unit_major("outs", layer), units, dtype)
        largest = float(np.max(np.abs(delta_out), initial=0.0))
        return Moved(layer, units, net_column, delta_out, dtype, largest)

    def outputs(self, moved: Moved, want_nets: bool = False):
        """The outputs [S, B, O] of the perturbed networks (a work buffer: use it before the
        next call), and the kinked nets when wanted (copies)."""
        model, params = self.model, self.params
        layer, depth, units, dtype = moved.layer, len(model.activations), moved.units, moved.dtype
        activation = model.activations[layer]
        nets = {}
        if layer + 1 == depth:
            return self._output_layer_moved(units, moved.net_column, dtype, want_nets, nets), nets
        if want_nets and activation.kinked:
            nets[f"layers.{layer}.net"] = _stacked_view(
                self._with_column("net", layer, "nets", units, moved.net_column, dtype), self.batch).copy()
        if moved.delta_out is None:  # softmax: every unit of the layer moves
            out = self._activate(layer, self._with_column("net", layer, "nets", units, moved.net_column, dtype),
                                 False, {})
        else:
            # One unit moved: the next layer's net changes by a rank-one term.
            layer += 1
            width = params[f"layers.{layer}.weight"].shape[0]
            if layer + 1 == depth:  # straight into the output layer, written example-major
                outputs = _work_array("outputs", moved.delta_out.shape + (width,), dtype)
                self._layer_after(layer, moved, outputs.reshape(-1, width), want_nets, nets, True)
                return outputs, nets
            if layer + 2 == depth:  # one hidden layer left: the output layer's nets may come from a series
                outputs = _work_array("outputs", moved.delta_out.shape + (params[f"layers.{depth - 1}.weight"].shape[0],),
                                      dtype)
                if self._output_nets_by_series(layer, moved, outputs):
                    return self._activate_outputs(outputs, want_nets, nets), nets
            net = _work_array(f"net{layer}", (width, moved.delta_out.size), dtype)
            out = self._layer_after(layer, moved, net, want_nets, nets, False)
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
        count = out.shape[1] // self.batch
        outputs = _work_array("outputs", (count, self.batch, weight.shape[0]), dtype)
        np.matmul(out.T, weight.T, out=outputs.reshape(-1, weight.shape[0]))
        if bias is not None:  # repeated to the outputs' shape: a broadcast along rows of O is 3x slower
            outputs += self._base_tiled("output bias", depth - 1, count, True).reshape(outputs.shape)
        return self._activate_outputs(outputs, want_nets, nets), nets

    def _activate(self, layer: int, net, want_nets: bool, nets: dict):
        """The activation of a unit-major [n, S*B] layer."""
        activation = self.model.activations[layer]
        if want_nets and activation.kinked:
            nets[f"layers.{layer}.net"] = _stacked_view(net, self.batch).copy()
        if not activation.elementwise:  # softmax: over each network's and example's units, not along a row
            out = activation.forward(np, _stacked_view(net, self.batch))
            return np.ascontiguousarray(out.transpose(2, 0, 1)).reshape(net.shape)
        return activation.forward_in_place(net)

    def _activate_outputs(self, outputs, want_nets: bool, nets: dict):
        """The output layer's activation of example-major nets [S, B, O], in place where it can be."""
        depth = len(self.model.activations)
        activation = self.model.activations[depth - 1]
        if want_nets and activation.kinked:
            nets[f"layers.{depth - 1}.net"] = outputs.copy()
        if activation.elementwise:
            return activation.forward_in_place(outputs)
        return activation.forward(np, outputs)

    def _output_layer_moved(self, units, net_column, dtype, want_nets: bool, nets: dict):
        """The outputs [S, B, O] when the output layer itself was perturbed: its unit units[s]
        has net net_column[s] in network s, every other output is the base's."""
        layer = len(self.model.activations) - 1
        activation = self.model.activations[layer]
        count = net_column.shape[0]
        outputs = _work_array("outputs", (count, self.batch, self.base.nets[layer].shape[1]), dtype)
        moved = np.arange(count)[:, None], np.arange(self.batch), units[:, None]
        if activation.elementwise and not (want_nets and activation.kinked):
            np.copyto(outputs, self.base.outs[layer])
            outputs[moved] = activation.forward(np, net_column)
            return outputs
        np.copyto(outputs, self.base.nets[layer])
        outputs[moved] = net_column
        return self._activate_outputs(outputs, want_nets, nets)

    def _layer_after(self, layer: int, moved: Moved, net, want_nets: bool, nets: dict, example_major: bool):
        """Layer `layer` of every network, the one after `moved.layer`: its net is the base's
        plus weight[:, units[s]] * delta_out[s] in network s, then the activation. `net` is
        the work array to fill: unit-major [n, S*B], or example-major [S*B, n] for the output
        layer, where the activations are left."""
        activation = self.model.activations[layer]
        weight = self.params[f"layers.{layer}.weight"]
        units, delta_out = moved.units, moved.delta_out
        count = delta_out.shape[0]
        if not (want_nets and activation.kinked) and self._exp_factored(layer, moved, net, example_major):
            return activation.from_exp_of_negated_net(net)
        self._rank_one(net, weight, units, delta_out, example_major)
        net += self._base_tiled("nets", layer, count, example_major)
        if not example_major:
            return self._activate(layer, net, want_nets, nets)
        outputs = net.reshape(count, self.batch, -1)
        activated = self._activate_outputs(outputs, want_nets, nets)
        if activated is not outputs:  # softmax gives a new array
            np.copyto(outputs, activated)
        return net

    def _exp_factored(self, layer: int, moved: Moved, out, example_major: bool) -> bool:
        """For an activation written in u = e^-net (the sigmoid): u of every network into `out`,
        as the base's e^-net times e^-(weight[:, units[s]] * delta_out[s]).
        For finite-difference steps the second factor is within about 1e-5 of 1, and its power
        series, cut where the first term left out is below 2^-60 (an ulp of 1 is 2^-52), gives
        it to rounding: one product with a few rows per run of networks that share a unit,
        where the direct way takes a rank-one product, an add, a clip test and an exp over
        every value. False, with nothing written, where that does not apply (another
        activation, a complex step, many runs, a change too large for a short series)."""
        activation = self.model.activations[layer]
        if not hasattr(activation, "from_exp_of_negated_net") or out.dtype != np.float64:
            return False
        units, delta_out = moved.units, moved.delta_out
        runs = _runs(units)
        if runs is None:
            return False
        terms = series.exp_terms(self._largest_weight(layer) * moved.largest_delta_out)
        if terms is None:
            return False
        count, batch = delta_out.shape
        powers = _work_array("powers", (terms, count * batch), np.float64)  # delta_out^k, k < terms
        powers[0] = 1.0
        for k in range(1, terms):
            np.multiply(powers[k - 1], delta_out.reshape(-1), out=powers[k])
        all_coefficients = self._series_coefficients(layer, terms)
        for first, end in runs:
            coefficients = all_coefficients[:, units[first]]  # [terms, n]: (-weight[:, unit])^k / k!
            columns = slice(first * batch, end * batch)
            if example_major:
                np.matmul(powers[:, columns].T, coefficients, out=out[columns])
            else:
                np.matmul(coefficients.T, powers[:, columns], out=out[:, columns])
        out *= self._base_tiled("exp_of_negated_nets", layer, count, example_major)
        return True

    def _output_nets_by_series(self, layer: int, moved: Moved, outputs) -> bool:
        """For a sigmoid `layer` between the perturbed one and the output layer: the output
        layer's nets of every network into `outputs` [S, B, O], without `layer`'s sigmoids.
        Unit j = units[s] of the layer before moved by delta_out[s, b] moves unit u of `layer`
        by x = weight[u, j] delta_out, and its sigmoid by sum_n D_n(u, b) x^n (refbp.nn.series),
        so the output nets move by sum_n delta_out^n H_n[:, b, j], with
        H_n[o, b, j] = sum_u weight_out[o, u] D_n(u, b) weight[u, j]^n computed once: each
        network then costs O * terms multiply-adds, where the direct way costs a sigmoid per
        unit of `layer` and an O x n product. False, with nothing written, where that does not
        apply (another activation, a complex step, a change too large for a short series, H
        too large to keep)."""
        activation = self.model.activations[layer]
        if not hasattr(activation, "from_exp_of_negated_net") or outputs.dtype != np.float64:
            return False
        terms = series.sigmoid_change_terms(self._largest_weight(layer) * moved.largest_delta_out)
        if terms is None:
            return False
        change_series = self._output_change_series(layer, terms)  # [J, B, terms, O]
        if change_series is None:
            return False
        units, delta_out = moved.units, moved.delta_out
        count, batch = delta_out.shape
        powers = _work_array("output powers", (batch, count, terms), np.float64)  # delta_out^(n+1), [b, s, n]
        np.copyto(powers[:, :, 0], delta_out.T)
        for n in range(1, terms):
            np.multiply(powers[:, :, n - 1], delta_out.T, out=powers[:, :, n])
        by_example = outputs.transpose(1, 0, 2)  # [B, S, O]
        runs = _runs(units)
        if runs is None:  # many units: one sum over the gathered series of each network's unit
            np.einsum("bsn,sbno->bso", powers, change_series[units], out=by_example)
        else:
            for first, end in runs:  # a product per example, all in one call
                np.matmul(powers[:, first:end], change_series[units[first]], out=by_example[:, first:end])
        outputs += self._base_tiled("nets", layer + 1, count, True).reshape(outputs.shape)
        return True

    def _output_change_series(self, layer: int, terms: int):
        """H [J, B, terms, O] of `_output_nets_by_series` for sigmoid `layer` (J units before
        it, O outputs after it), or None past SERIES_FLOATS."""
        key = ("output change series", layer, terms)
        if key not in self._cache:
            weight = self.params[f"layers.{layer}.weight"].astype(np.float64)  # [U, J]
            weight_out = self.params[f"layers.{layer + 1}.weight"].astype(np.float64)  # [O, U]
            (units, before), outs, batch = weight.shape, weight_out.shape[0], self.batch
            if terms * units * batch * before > SERIES_FLOATS or terms * outs * batch * before > SERIES_FLOATS:
                self._cache[key] = None
                return None
            net = np.asarray(self.base.nets[layer], dtype=np.float64)  # [B, U]
            sigmoid = np.asarray(self.base.outs[layer], dtype=np.float64)
            one_minus = self.model.activations[layer].forward(np, -net)  # 1 - s(z) = s(-z), to full precision
            change = series.sigmoid_change(sigmoid, one_minus, terms)  # [terms, B, U]
            weight_power = weight.copy()
            result = np.empty((terms, outs, batch, before))
            for n in range(terms):
                if n:
                    weight_power *= weight
                # [U, B, J]: D_n(u, b) weight[u, j]^n, then the output layer's product over u
                scaled = change[n].T[:, :, None] * weight_power[:, None, :]
                np.matmul(weight_out, scaled.reshape(units, -1), out=result[n].reshape(outs, -1))
            self._cache[key] = np.ascontiguousarray(result.transpose(3, 2, 0, 1))
        return self._cache[key]

    def _largest_weight(self, layer: int) -> float:
        key = ("largest weight", layer)
        if key not in self._cache:
            self._cache[key] = float(np.max(np.abs(self.params[f"layers.{layer}.weight"]), initial=0.0))
        return self._cache[key]

    def _series_coefficients(self, layer: int, terms: int) -> np.ndarray:
        """(-weight)^k / k! for k < terms, laid out [k, unit before, unit]."""
        key = ("series", layer, terms)
        if key not in self._cache:
            negated = -self.params[f"layers.{layer}.weight"].T.astype(np.float64)
            coefficients = np.empty((terms,) + negated.shape)
            coefficients[0] = 1.0
            for k in range(1, terms):
                np.multiply(coefficients[k - 1], negated / k, out=coefficients[k])
            self._cache[key] = coefficients
        return self._cache[key]

    def _unit_major(self, which: str, layer: int) -> np.ndarray:
        """The base's inputs of `layer` (the outs of the layer before), or its nets or outs,
        unit-major and contiguous [n, B]: a gather of units then gives [S, B] rows."""
        key = (which, layer)
        if key not in self._cache:
            if which == "inputs":
                values = self.base.inputs if layer == 0 else self.base.outs[layer - 1]
            else:
                values = getattr(self.base, which)[layer]
            self._cache[key] = np.ascontiguousarray(values.T)
        return self._cache[key]

    @staticmethod
    def _rank_one(net, weight, units, delta_out, example_major: bool) -> None:
        """net[:, s*B + b] = weight[:, units[s]] * delta_out[s, b] (example-major: net[s*B + b, :]):
        what moving unit units[s] of the layer before by delta_out[s] adds to this layer's net,
        before its base."""
        count, batch = delta_out.shape
        runs = _runs(units)
        if runs is None:  # one gathered product
            if example_major:
                np.multiply(delta_out[:, :, None], weight[:, units].T[:, None, :], out=net.reshape(count, batch, -1))
            else:
                np.multiply(weight[:, units][:, :, None], delta_out[None], out=net.reshape(net.shape[0], count, -1))
            return
        for first, end in runs:
            column, changes = weight[:, units[first]], delta_out[first:end].reshape(-1)
            if example_major:
                np.multiply(changes[:, None], column[None, :], out=net[first * batch:end * batch])
            else:
                np.multiply(column[:, None], changes[None, :], out=net[:, first * batch:end * batch])

    def _with_column(self, role: str, layer: int, which: str, units, column, dtype) -> np.ndarray:
        """S copies of the base's `which` (nets or outs) of `layer`, unit-major [n, S*B], with
        unit units[s] of copy s replaced by column[s]."""
        count, batch = column.shape
        stacked = _work_array(role, (getattr(self.base, which)[layer].shape[1], count * batch), dtype)
        stacked[...] = self._base_tiled(which, layer, count)
        stacked[units[:, None], np.arange(count)[:, None] * batch + np.arange(batch)] = column
        return stacked

    def _base_tiled(self, which: str, layer: int, count: int, example_major: bool = False) -> np.ndarray:
        """`_base_values(which, layer)` repeated for `count` networks: unit-major [n, count*B]
        or example-major [count*B, n]."""
        base = self._base_values(which, layer)
        key = ("tiled", which, layer, example_major)
        units = base.shape[1]
        shape = (count * self.batch, units) if example_major else (units, count * self.batch)
        tiled = _work_array(key, shape, base.dtype)
        filled = _WORKSPACE.__dict__.setdefault("filled", {})
        if filled.get(key) != (self._token, count):
            if example_major:
                np.copyto(tiled.reshape(count, self.batch, units), base[None])
            else:
                np.copyto(tiled.reshape(units, count, self.batch), base.T[:, None, :])
            filled[key] = (self._token, count)
        return tiled

    def _base_values(self, which: str, layer: int) -> np.ndarray:
        """[B, n]: the base's nets, outs or exp_of_negated_nets of `layer`, or its bias (for every example)."""
        if which == "output bias":
            bias = self.params[f"layers.{layer}.bias"]
            return np.broadcast_to(bias, (self.batch,) + bias.shape)
        if which != "exp_of_negated_nets":
            return getattr(self.base, which)[layer]
        key = (which, layer)
        if key not in self._cache:
            activation = self.model.activations[layer]
            self._cache[key] = activation.exp_of_negated_net(np.array(self.base.nets[layer], dtype=np.float64))
        return self._cache[key]


def _runs(units):
    """(first, end) of each run of consecutive networks that move the same unit; None past
    MAX_RUNS (one gathered product is then faster than a product per run)."""
    starts = np.flatnonzero(units[1:] != units[:-1]) + 1
    if len(starts) >= MAX_RUNS:
        return None
    edges = [0, *starts.tolist(), len(units)]
    return list(zip(edges[:-1], edges[1:]))


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


def _gathered(role, rows, indices, dtype) -> np.ndarray:
    """rows[indices] in a work array of `dtype`."""
    out = _work_array(role, (len(indices),) + rows.shape[1:], dtype)
    if out.dtype == rows.dtype:
        np.take(rows, indices, axis=0, out=out, mode="clip")  # indices are in range; clip skips a buffer
    else:
        out[...] = rows[indices]
    return out


def _stacked_view(unit_major, batch: int):
    """[n, S*B] unit-major -> the [S, B, n] view the losses and kink probes take."""
    units, columns = unit_major.shape
    return unit_major.reshape(units, columns // batch, batch).transpose(1, 2, 0)
