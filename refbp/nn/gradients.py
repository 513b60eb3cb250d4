"""`Gradients`: what a model's backward pass returns (refbp.nn.mlp, refbp.nn.rnn)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Gradients:
    # dL/d(parameter), by the case's parameter names.
    grads: dict
    # dL/d(inputs) and, for an RNN given h0, dL/dh0 (empty unless asked for).
    input_grads: dict = field(default_factory=dict)
    # The chain rule's own intermediate results, kept as computed (no copies), named as in
    # refbp.trace.Trace.error_signals: what `refbp explain` prints.
    error_signals: dict = field(default_factory=dict)
