"""`Trace`: the named record of one computation, the common currency of refbp and its references.

Names are the case's parameter names everywhere, so comparing two traces is a loop over
names. Every array is numpy float64 (the implementation under test converts its own
dtype/device to that before handing the trace over).
`gradient_norms_through_time` reads an RNN trace's error signals for the verdict, the
report's plot and `refbp explain --through-time`, so all three show the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Trace:
    # None where an answer does not give them (declared not provided, absent from a result).
    outputs: np.ndarray | None
    loss: float | None
    # Per layer `layers.{i}.net` / `layers.{i}.out` (MLP); `rnn.net`, `rnn.h`, `readout.*` (RNN).
    intermediates: dict[str, np.ndarray] = field(default_factory=dict)
    # Gradients of the loss at the initial parameters, by parameter name.
    grads: dict[str, np.ndarray] = field(default_factory=dict)
    # Gradients with respect to the data: `inputs` and, for an RNN, `h0`.
    input_grads: dict[str, np.ndarray] = field(default_factory=dict)
    # The backward's own error signals (what `refbp explain` prints), when the implementation
    # records them. MLP: `layers.{i}.grad_out` = dE/dout and `layers.{i}.grad_net` = dE/dnet,
    # [B, n(i+1)]. RNN: `rnn.grad_net` [B, T, H] = dE/dnet_t; `rnn.grad_h` [B, T, H] = dE/dh_t
    # for t = 1..T (from the readout and later steps, within a truncation chunk); `rnn.grad_h0`
    # [B, H] = dE/dh_0.
    error_signals: dict[str, np.ndarray] = field(default_factory=dict)
    # After all `train.steps` updates (None when the case has no `train`).
    params_after: dict[str, np.ndarray] | None = None
    loss_after: float | None = None
    # Seconds spent, by phase ("forward", "backward", "train").
    timings: dict[str, float] = field(default_factory=dict)

    def gradient_norms_through_time(self) -> list[float] | None:
        """||dE/dh_t|| for t = 0..T (Frobenius over batch and hidden units), from the backward's
        `rnn.grad_h0` and `rnn.grad_h`; None for a trace without them (an MLP, another implementation)."""
        signals = self.error_signals
        if "rnn.grad_h" not in signals or "rnn.grad_h0" not in signals:
            return None
        grad_h = signals["rnn.grad_h"]
        return [float(np.linalg.norm(signals["rnn.grad_h0"]))] + [
            float(np.linalg.norm(grad_h[:, t, :])) for t in range(grad_h.shape[1])
        ]
