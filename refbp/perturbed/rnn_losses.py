"""Losses of many single-entry perturbations of one RNN at once: refbp's RNN forward for S
perturbed networks evaluated together, the hot path of an RNN's finite differences.

Network s differs from `params` in entry flat_indices[s] of one tensor, moved by deltas[s].
  - readout.weight / readout.bias: the hidden states are the base's (refbp.perturbed.rnn_base),
    only the readout's one output unit moves: no recurrence at all;
  - rnn.*: every perturbed network runs the recurrence, all S together, stacked along the batch:
    per step one [H, H] x [H, B*S] product, the base's input projection of that step added,
    and the perturbation's own term in its one unit (delta x_t[i] for weight_ih[u, i], delta for
    a bias, delta h_{t-1}[j] for weight_hh[u, j]). Steps the perturbation cannot change are the
    base's: a weight_hh perturbation does nothing at a step entered by a zero state, and with
    truncated BPTT and a last-step readout only the last chunk reaches the loss.
Each is refbp.nn's RNN forward re-evaluated (products arranged for the stack, the same
activations and losses by name): never a derivative formula. refbp.oracle.fd compares the values
with the plain loss before it uses them (refbp.oracle.fd.agreement).

Layout: a step's values for the chunk are one unit-major work array [H, B, S] (network s of
example b in column b*S + s), so the base's projection of the step is added as [H, B, 1]
along rows of S, and every elementwise pass runs along long contiguous rows.
"""

from __future__ import annotations

import numpy as np

from .activations_in_place import activate_in_place
from .rnn_base import RNNBase
from .stacked_losses import loss_values_in_place
from .workspace import work_array


class RNNPerturbedLosses:
    """fn(name, flat_indices, deltas, kinks=False) -> losses [S]; with kinks, also {kinked net
    ("rnn.net" [S, B, T, H], "readout.net" [S, B, (T,) O]): sign as int8} of the nets the
    perturbations can move. Without kinks a call may hold a whole tensor: it runs in chunks of
    chunks[name] networks; with kinks, one chunk per call."""

    def __init__(self, model, loss, params: dict, inputs, targets, h0, parts, chunks=None):
        self.model, self.loss, self.params, self.inputs, self.targets = model, loss, params, inputs, targets
        self.base = RNNBase(model, params, inputs, h0, parts)
        self.chunks = chunks or {}
        self.kinked_rnn = model.nonlinearity.kinked
        self.kinked_readout = model.output_activation.kinked
        # (first, end, path) of each chunk of the last call (refbp.oracle.fd.agreement samples every path).
        self.chunk_paths: list = []

    def __call__(self, name: str, flat_indices, deltas, kinks: bool = False):
        flat_indices, deltas = np.asarray(flat_indices, dtype=np.int64), np.asarray(deltas, dtype=np.float64)
        size = self.params[name].size
        if flat_indices.size and not 0 <= int(flat_indices.min()) <= int(flat_indices.max()) < size:
            raise IndexError(f"{name}: entries {flat_indices.min()}..{flat_indices.max()} of a tensor of {size}")
        count = flat_indices.size
        chunk = count if kinks else (self.chunks.get(name) or count)
        values = np.empty(count)
        self.chunk_paths, nets = [], {}
        for start in range(0, count, max(chunk, 1)):
            part = slice(start, start + chunk)
            outputs, nets, path = self.outputs(name, flat_indices[part], deltas[part], kinks)
            values[part] = loss_values_in_place(self.loss, outputs, self.targets)
            self.chunk_paths.append((start, min(start + chunk, count), path))
        return (values, nets) if kinks else values

    def outputs(self, name: str, flat_indices, deltas, kinks: bool):
        """(outputs [S, B, (T,) O] of the perturbed networks (a work array: use it before the next
        call), their kinked nets' signs, the path)."""
        if name.startswith("readout."):
            outputs, nets = self._readout_moved(name, flat_indices, deltas, kinks)
            return outputs, nets, "readout of the base's states"
        nets_out: dict = {}
        outputs, path = self._recurrence(name, flat_indices, deltas, kinks, nets_out)
        return self._activated(outputs, kinks, nets_out), nets_out, path

    # ---- a readout entry moved: the base's states, one output unit changed ----------------------
    def _readout_moved(self, name, flat_indices, deltas, kinks):
        base, count = self.base, flat_indices.size
        readout_net = base.readout_net
        outputs = work_array("rnn readout nets", (count,) + readout_net.shape, np.float64)
        np.copyto(outputs, readout_net)
        by_unit = np.moveaxis(outputs, -1, 1)  # [S, O, B, (T)]
        spread = (slice(None),) + (None,) * (readout_net.ndim - 1)
        if name == "readout.weight":
            hidden = base.model.network.hidden_size
            units, columns = flat_indices // hidden, flat_indices % hidden
            inputs = np.moveaxis(base.readout_inputs(), -1, 0)  # [H, B, (T)]
            by_unit[np.arange(count), units] += deltas[spread] * inputs[columns]
        else:
            by_unit[np.arange(count), flat_indices] += deltas[spread]
        nets = {}
        return self._activated(outputs, kinks, nets), nets

    def _activated(self, readout_nets, kinks: bool, nets: dict):
        """The output activation of the stacked readout nets (their signs first, when kinked and asked for)."""
        if kinks and self.kinked_readout:
            nets["readout.net"] = np.sign(readout_nets).astype(np.int8)
        activation = self.model.output_activation
        if activation.elementwise and readout_nets.flags.c_contiguous:
            return activate_in_place(activation, readout_nets)
        return activation.forward(np, readout_nets)

    # ---- an rnn.* entry moved: the recurrence of every network, stacked along the batch ---------
    def _recurrence(self, name, flat_indices, deltas, kinks: bool, nets: dict):
        base, network = self.base, self.model.network
        count, batch, hidden, steps = flat_indices.size, base.batch, network.hidden_size, base.steps
        kind = name.split(".")[1]
        width = {"weight_ih": network.input_size, "weight_hh": hidden}.get(kind)
        units = flat_indices if width is None else flat_indices // width
        columns = None if width is None else flat_indices % width
        # Where each network's own term goes: unit units[s] of example b, column b*S + s of [H, B*S].
        positions = (units[:, None] * batch + np.arange(batch)) * count + np.arange(count)[:, None]  # [S, B]
        weight_hh, readout_weight = self.params["rnn.weight_hh"], self.params["readout.weight"]
        outputs_width = readout_weight.shape[0]
        every_step = base.every_step
        signs = np.empty((steps, hidden, batch, count), dtype=np.int8) if kinks and self.kinked_rnn else None
        state, spare = (work_array(role, (hidden, batch, count), np.float64) for role in ("rnn h", "rnn net"))
        if every_step:
            outputs = work_array("rnn outputs", (steps, outputs_width, batch, count), np.float64)
        # Without kinks only the segments the loss reads run (a last-step readout reads the last one).
        parts = base.segments if every_step or kinks else base.segments[-1:]
        skipped = 0
        for segment in parts:
            np.copyto(state, segment.initial.T[:, :, None])
            for t in range(segment.start, segment.stop):
                if t == segment.start and segment.zero and kind == "weight_hh":
                    # h_{t-1} = 0: W_hh's entries act on nothing, the step is the base's.
                    np.copyto(state, base.states[:, t, :].T[:, :, None])
                    if signs is not None:
                        signs[t] = base.net_signs("rnn.net")[:, t, :].T[:, :, None]
                    skipped += 1
                else:
                    net = spare
                    np.matmul(weight_hh, state.reshape(hidden, -1), out=net.reshape(hidden, -1))
                    net += base.projections[t][:, :, None]
                    net.reshape(-1)[positions] += deltas[:, None] * self._own_term(kind, columns, t, state)
                    if signs is not None:
                        np.sign(net, out=signs[t], casting="unsafe")
                    spare, state = state, activate_in_place(self.model.nonlinearity, net)
                if every_step:
                    np.matmul(readout_weight, state.reshape(hidden, -1), out=outputs[t].reshape(outputs_width, -1))
        if signs is not None:
            nets["rnn.net"] = signs.transpose(3, 2, 0, 1)  # [S, B, T, H]
        if every_step:
            by_network = outputs.transpose(3, 2, 0, 1)  # [S, B, T, O]
        else:
            last = work_array("rnn outputs", (outputs_width, batch, count), np.float64)
            np.matmul(readout_weight, state.reshape(hidden, -1), out=last.reshape(outputs_width, -1))
            by_network = last.transpose(2, 1, 0)  # [S, B, O]
        # One transposing copy into a network-major work array: the losses then run along
        # contiguous rows, where on the transposed view they cost ten times more.
        stacked = work_array("rnn stacked outputs", by_network.shape, np.float64)
        np.copyto(stacked, by_network)
        bias = self.params.get("readout.bias")
        if bias is not None:
            stacked += bias
        done = sum(p.stop - p.start for p in parts) - skipped
        path = f"recurrence, {done} of {steps} steps" + (", last chunk only" if len(parts) < len(base.segments) else "")
        return stacked, path

    def _own_term(self, kind: str, columns, t: int, state) -> np.ndarray:
        """[S, B]: what network s's moved entry multiplies at step t (its delta applied by the caller)."""
        if kind == "weight_ih":
            return self.inputs[:, t, columns].T  # x_t[i]
        if kind == "weight_hh":
            return state[columns, :, np.arange(columns.size)]  # h_{t-1}[j] of network s
        return np.ones((1, 1))  # a bias
