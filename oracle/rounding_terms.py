"""The size of the terms behind each gradient entry: the scale a correct low-precision answer
rounds at (refbp.check.stick's per-entry floor, docs/precision.md).

A weight gradient dL/dW = dL/dnet^T x is a sum of products. Computed in float16 or bfloat16 by
correct code, its rounding is set by the sum of their absolute values, |dL/dnet|^T |x|, not by
|dL/dW| itself: where the products cancel, an entry of 9e-5 built from terms of 1e-3 is off by
an ulp of 1e-3 (Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed., 2002, eq.
3.5: |fl(A B) - A B| <= gamma_n |A| |B|). dL/dnet is itself such a sum (dL/dout = dL/dnet' W'),
so its size of terms comes from the same backward pass on absolute values: |dL/dy| carried back
through each activation's |slope| (|J| for softmax) and each |W|. Then, per entry,

    weight:  |dL/dnet|^T |x|  (x: the layer's input; RNN: summed over the steps)
    bias:    sum over the batch (and steps) of |dL/dnet|
    inputs, h0:  |dL/dnet| |W|

with |dL/dnet| the absolute-value backward. The forward values (x, the slopes) are the float64
reference's own (its trace's intermediates); the slopes come from torch's autograd of the
activation's own torch.nn module (torch's choice at a kink), dL/dy from torch.nn's loss. What is
not counted: the forward pass's own rounding carried into x and the slopes (an honest
implementation shares it with torch, whose own error measures it). Nothing here imports refbp.nn.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from refbp.trace import Trace

from .torch_functions import activation_module, case_tensor, loss_value

Array = np.ndarray[Any, np.dtype[np.float64]]


def gradient_terms(case: Any, trace: Trace) -> dict[str, dict[str, Array]]:
    """{"grads": {name: terms}, "input_grads": {"inputs": terms, "h0": terms}} of `case`, from the
    float64 reference's `trace` (its intermediates and outputs); {} where the trace lacks them."""
    needed = ("layers.0.net",) if case.network.kind == "mlp" else ("rnn.net", "rnn.h", "readout.net")
    if any(name not in trace.intermediates for name in needed):
        return {}
    upstream = _upstream(case, np.asarray(trace.outputs, dtype=np.float64))
    with np.errstate(all="ignore"):
        return _mlp(case, trace, upstream) if case.network.kind == "mlp" else _rnn(case, trace, upstream)


def _upstream(case: Any, outputs: Array) -> Array:
    """|dL/dy| at the reference's outputs (torch.nn's loss, BCELoss's clamped value as the reference)."""
    out = case_tensor(outputs).requires_grad_(True)
    loss = loss_value(case.loss, out, case_tensor(case.targets))
    gradient: Array = torch.autograd.grad(loss, out)[0].detach().numpy()
    return np.abs(gradient)


def _slope(activation: str, net: Array) -> Array:
    """|f'(net)| of an elementwise activation, by autograd of its torch.nn module."""
    leaf = torch.as_tensor(net, dtype=torch.float64).requires_grad_(True)
    out = activation_module(activation)(leaf)
    slope: Array = torch.autograd.grad(out, leaf, torch.ones_like(out))[0].detach().numpy()
    return np.abs(slope)


def _through(activation: str, net: Array, out: Array, magnitude: Array) -> Array:
    """|J|^T magnitude: the absolute-value backward through an activation (magnitude >= 0)."""
    if activation == "softmax":  # J = diag(s) - s s^T; |J|_ij = s_i (1 - s_i) at i = j, s_i s_j elsewhere
        inner = np.sum(out * magnitude, axis=-1, keepdims=True)
        result: Array = out * (inner + (1.0 - 2.0 * out) * magnitude)
        return result
    return _slope(activation, net) * magnitude


def _mlp(case: Any, trace: Trace, upstream: Array) -> dict[str, dict[str, Array]]:
    network, params = case.network, case.params
    layers = len(network.activations)
    x = [np.asarray(case.inputs, dtype=np.float64)]
    x += [np.asarray(trace.intermediates[f"layers.{i}.out"], dtype=np.float64) for i in range(layers)]
    grads: dict[str, Array] = {}
    magnitude = upstream
    for i in range(layers - 1, -1, -1):
        net = np.asarray(trace.intermediates[f"layers.{i}.net"], dtype=np.float64)
        magnitude = _through(network.activations[i], net, x[i + 1], magnitude)  # |dL/dnet|, absolute
        grads[f"layers.{i}.weight"] = magnitude.T @ np.abs(x[i])
        if f"layers.{i}.bias" in params:
            grads[f"layers.{i}.bias"] = magnitude.sum(axis=0)
        magnitude = magnitude @ np.abs(np.asarray(params[f"layers.{i}.weight"], dtype=np.float64))
    return {"grads": grads, "input_grads": {"inputs": magnitude}}


def _rnn(case: Any, trace: Trace, upstream: Array) -> dict[str, dict[str, Array]]:
    network = case.network
    params = {name: np.asarray(value, dtype=np.float64) for name, value in case.params.items()}
    x = np.asarray(case.inputs, dtype=np.float64)  # [B, T, I]
    nets = np.asarray(trace.intermediates["rnn.net"], dtype=np.float64)
    states = np.asarray(trace.intermediates["rnn.h"], dtype=np.float64)  # [B, T, H]
    batch, steps, hidden = states.shape
    h0 = np.zeros((batch, hidden)) if case.h0 is None else np.asarray(case.h0, dtype=np.float64)
    previous = np.abs(np.concatenate([h0[:, None, :], states[:, :-1, :]], axis=1))
    every = network.readout == "every_step"
    readin = states if every else states[:, -1, :]
    readout = _through(
        network.output_activation,
        np.asarray(trace.intermediates["readout.net"], dtype=np.float64),
        np.asarray(trace.outputs, dtype=np.float64),
        upstream,
    )
    flat = readout.reshape(-1, readout.shape[-1])
    grads = {"readout.weight": flat.T @ np.abs(readin).reshape(-1, hidden)}
    if "readout.bias" in params:
        grads["readout.bias"] = flat.sum(axis=0)
    from_readout = readout @ np.abs(params["readout.weight"])  # [B, T, H] or [B, H]
    w_ih, w_hh = np.abs(params["rnn.weight_ih"]), np.abs(params["rnn.weight_hh"])
    weight_ih, weight_hh, bias = np.zeros_like(w_ih), np.zeros_like(w_hh), np.zeros(hidden)
    inputs, later, chunk = np.zeros_like(x), np.zeros((batch, hidden)), network.truncate or steps
    for t in range(steps - 1, -1, -1):
        if (t + 1) % chunk == 0:  # no gradient crosses a chunk boundary
            later = np.zeros((batch, hidden))
        direct = from_readout[:, t, :] if every else (from_readout if t == steps - 1 else 0.0)
        magnitude = _through(network.nonlinearity, nets[:, t, :], states[:, t, :], direct + later)
        weight_ih += magnitude.T @ np.abs(x[:, t, :])
        weight_hh += magnitude.T @ previous[:, t, :]
        bias += magnitude.sum(axis=0)
        inputs[:, t, :] = magnitude @ w_ih
        later = magnitude @ w_hh
    grads.update({"rnn.weight_ih": weight_ih, "rnn.weight_hh": weight_hh})
    if "rnn.bias_ih" in params:
        grads.update({"rnn.bias_ih": bias, "rnn.bias_hh": bias.copy()})
    input_grads = {"inputs": inputs}
    if case.h0 is not None:
        input_grads["h0"] = later
    return {"grads": grads, "input_grads": input_grads}
