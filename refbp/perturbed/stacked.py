"""refbp's MLP forward for a stack of S parameter sets at once (the directional method's
points): every tensor may carry a leading axis S, and from the first stacked layer on the
nets and outs are [S, B, n]. Each layer is refbp.nn's own `net = x @ W.T + b` and its
activation's own `forward`; only the products are arranged for the stack."""

from __future__ import annotations

import numpy as np

from .stacked_losses import loss_values


def stacked_forward(model, params: dict, inputs) -> tuple[list, np.ndarray]:
    """(nets of every layer, outputs) of `model` (an MLP) for the stacked `params`."""
    nets, x = [], inputs
    for i, activation in enumerate(model.activations):
        weight, bias = params[f"layers.{i}.weight"], params.get(f"layers.{i}.bias")
        if weight.ndim == 2 and x.ndim > 2:
            # One shared weight: a single 2-d product over every (network, example) row, not a loop of small ones.
            net = np.reshape(np.reshape(x, (-1, x.shape[-1])) @ weight.T, x.shape[:-1] + (weight.shape[0],))
        else:
            net = x @ np.swapaxes(weight, -1, -2)
        if bias is not None:
            net = net + (bias[:, None, :] if bias.ndim == 2 else bias)
        nets.append(net)
        x = activation.forward(np, net)
    return nets, x


def stacked_losses(model, loss, inputs, targets):
    """The `stacked` form: (stacked params, kinks=False) -> losses [S] (and, with kinks, the
    stacked nets of the kinked layers)."""

    def stacked(params, kinks=False):
        count = next(iter(params.values())).shape[0]
        nets, outputs = stacked_forward(model, params, inputs)
        values = loss_values(loss, np.broadcast_to(outputs, (count,) + outputs.shape[-2:]), targets)
        if not kinks:
            return values
        return values, {
            f"layers.{i}.net": np.broadcast_to(net, (count,) + net.shape[-2:])
            for i, (net, a) in enumerate(zip(nets, model.activations))
            if a.kinked
        }

    return stacked
