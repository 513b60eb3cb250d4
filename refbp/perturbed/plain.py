"""refbp's forward at one parameter set, as finite differences see it: the loss as a
function of the parameters and a probe of its kinked units, for any network refbp has.

Truncated BPTT (an RNN with `truncate = k`) is the exact gradient of the loss with every
chunk-entering hidden state held constant at its value at the case's parameters (torch's
`detach()`): that function, not the plain loss, is what finite differences must
differentiate to check a truncated backward. It is built here from refbp.nn's plain RNN
forward, one call per chunk of k steps starting from the held state, because it is the
finite differences' view of truncation; refbp.nn's RNN only needs to know where the
chunks end (its backward stops there).
"""

from __future__ import annotations

import numpy as np

from refbp.names import ACTIVATIONS
from refbp.nn import build_model, case_arrays, losses
from refbp.nn import loss_function as plain_loss


def kinked_nets(network) -> list[str]:
    """Names of the recorded pre-activations (refbp.nn's `intermediates`) whose activation has a kink at 0."""
    if network.kind == "mlp":
        activation_of = {f"layers.{i}.net": name for i, name in enumerate(network.activations)}
    else:
        activation_of = {"rnn.net": network.nonlinearity, "readout.net": network.output_activation}
    return [net for net, name in activation_of.items() if ACTIVATIONS[name].kinked]


def loss_and_probe(case):
    """(loss(params) -> float, probe(params) -> {kinked net: pre-activations}), in float64."""
    model = build_model(case.network)
    initial, inputs, targets, h0 = case_arrays(case, "float64")
    kinked = kinked_nets(case.network)
    truncate = case.network.truncate if case.network.kind == "rnn" else None
    if truncate is None:
        def forward(params):
            cache = model.forward(np, params, inputs, h0)
            return cache.outputs, model.intermediates(cache)

        loss = plain_loss(case)
    else:
        forward = _truncated_forward(model, initial, inputs, h0, truncate)
        loss_of_outputs = losses.get(case.loss)

        def loss(params) -> float:
            return float(loss_of_outputs.value(np, forward(params)[0], targets))

    def probe(params) -> dict:
        named = forward(params)[1]
        return {name: np.asarray(named[name]) for name in kinked}

    return loss, probe


def _truncated_forward(model, initial: dict, inputs, h0, truncate: int):
    """params -> (outputs, intermediates) of the RNN with every chunk-entering state held at
    its value at `initial`: chunk c (steps ck .. ck + k - 1) starts from h_{ck} of the
    forward at `initial` (chunk 0 from h0)."""
    states = model.forward(np, initial, inputs, h0).states
    steps = inputs.shape[1]
    chunks = [(slice(start, start + truncate), h0 if start == 0 else states[:, start - 1, :])
              for start in range(0, steps, truncate)]
    every_step = model.network.readout == "every_step"

    def forward(params):
        caches = [model.forward(np, params, inputs[:, part], held) for part, held in chunks]
        named = [model.intermediates(cache) for cache in caches]
        # Per-step values join along time; a last-step readout is the last chunk's.
        joined = {name: np.concatenate([n[name] for n in named], axis=1)
                  if name.startswith("rnn.") or every_step else named[-1][name] for name in named[0]}
        outputs = np.concatenate([c.outputs for c in caches], axis=1) if every_step else caches[-1].outputs
        return outputs, joined

    return forward
