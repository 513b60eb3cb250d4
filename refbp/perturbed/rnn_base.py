"""The unperturbed RNN that every perturbed one differs from (refbp.perturbed.rnn_losses):
refbp.nn's RNN forward at `params`, run once over the segments the loss is computed over, and
what the perturbed recurrences read from it, laid out unit-major.

A segment is a run of steps that starts from a known state: the whole sequence from h0 (or
zeros), or, under truncated BPTT (`network.truncate = k`), each chunk of k steps from the
state entering it held at its value at the case's parameters, exactly as the finite
differences' loss builds it (refbp.perturbed.plain).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Segment(NamedTuple):
    start: int
    stop: int
    initial: np.ndarray  # [B, H], the state entering step `start`
    zero: bool  # that state is all zeros: W_hh does not act on the segment's first step


def segments(model, held_at: dict, inputs, h0) -> list[Segment]:
    """The segments of refbp's forward as finite differences see it: one, or truncated BPTT's
    chunks, each entered by the state of the forward at `held_at` (the case's parameters)."""
    batch, steps = inputs.shape[:2]
    hidden = model.network.hidden_size
    first = np.zeros((batch, hidden)) if h0 is None else np.asarray(h0, dtype=np.float64)
    truncate = model.network.truncate
    if truncate is None:
        return [Segment(0, steps, first, h0 is None or not first.any())]
    states = model.forward(np, held_at, inputs, h0).states
    parts = []
    for start in range(0, steps, truncate):
        initial = first if start == 0 else states[:, start - 1, :]
        parts.append(Segment(start, min(start + truncate, steps), initial, not initial.any()))
    return parts


class RNNBase:
    """refbp.nn's RNN forward at `params`, one call per segment (as refbp.perturbed.plain runs
    it), joined: states, nets, readout nets and outputs as the loss sees them, and the
    per-step input projections [T, H, B] (x_t W_ih^T + b_ih + b_hh, unit-major)."""

    def __init__(self, model, params: dict, inputs, h0, parts: list[Segment]):
        self.model, self.params, self.inputs, self.segments = model, params, inputs, parts
        self.batch, self.steps = inputs.shape[:2]
        self.every_step = model.network.readout == "every_step"
        caches = [
            model.forward(np, params, inputs[:, s.start : s.stop], h0 if s.start == 0 else s.initial) for s in parts
        ]
        self.nets = np.concatenate([c.nets for c in caches], axis=1)  # [B, T, H]
        self.states = np.concatenate([c.states for c in caches], axis=1)  # [B, T, H]
        if self.every_step:
            self.readout_net = np.concatenate([c.readout_net for c in caches], axis=1)  # [B, T, O]
            self.outputs = np.concatenate([c.outputs for c in caches], axis=1)
        else:
            self.readout_net, self.outputs = caches[-1].readout_net, caches[-1].outputs  # [B, O]
        # refbp.nn's projection, step by step: its one product over every step, then the summed biases.
        projected = np.transpose(inputs, (1, 0, 2)) @ params["rnn.weight_ih"].T
        bias = model.step_bias(params)
        if bias is not None:
            projected += bias
        self.projections = np.ascontiguousarray(np.transpose(projected, (0, 2, 1)))  # [T, H, B]
        self._derived: dict = {}

    def readout_inputs(self) -> np.ndarray:
        """The states the readout reads: [B, T, H] (every step) or [B, H] (the last)."""
        return self.states if self.every_step else self.states[:, -1, :]

    def net_signs(self, which: str) -> np.ndarray:
        """sign of the base's `rnn.net` [B, T, H] or `readout.net`, as int8 (computed once)."""
        if which not in self._derived:
            self._derived[which] = np.sign(self.nets if which == "rnn.net" else self.readout_net).astype(np.int8)
        return self._derived[which]
