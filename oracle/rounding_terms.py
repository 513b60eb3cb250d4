"""The size of the terms behind each entry of a case's trace: the scale a correct low-precision
answer rounds at (refbp.check.stick's per-entry floor, docs/precision.md).

A sum of products computed in float16 or bfloat16 by correct code is off by ulps of the sum of
their absolute values, not of the sum itself (Higham, *Accuracy and Stability of Numerical
Algorithms*, 2nd ed., 2002, eq. 3.5: |fl(A B) - A B| <= gamma_n |A| |B|): where the products
cancel, an entry of 9e-5 built from terms of 1e-3 is off by ulps of 1e-3. A value computed from
rounded values inherits their errors too, so each value's size of terms is carried through the
network, on absolute values (a running error bound, first order):

    forward    net:  A = F_in |W|^T + |b|            F_in: the layer input's (|x| for the case's inputs)
               out:  F = |f'(net)| A + |out|          (|J| A for softmax): the net's, and its own rounding
               RNN:  the same per step, F of h_{t-1} in place of F_in for W_hh (|h0| at the start)
    backward   dL/dy's terms (the loss's y - t or softmax - p taken as a sum: _upstream) carried
               back through each activation's |slope| (|J| for softmax) and each |W|:
               M = |dL/dnet| on absolute values (a dL/dnet whose own sum cancels counts its terms)
               weight: M^T F_in (an RNN's summed over its steps; truncation cuts as the gradient's)
               bias:   M summed over the batch (and steps);   inputs, h0: M |W|

The values (nets, outputs, slopes) are the float64 reference's own (its trace's intermediates);
the slopes come from torch's autograd of the activation's own torch.nn module (torch's choice at a
kink). Not counted: the effect of the forward pass's rounding on the slopes (second derivatives),
which an honest implementation shares with torch, whose own error measures it. Each result bounds
its value: |value| <= terms, entry by entry (tests/test_precision_terms.py). Nothing here imports
refbp.nn.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from refbp.trace import Trace

from .torch_functions import activation_module, case_tensor, loss_value

Array = np.ndarray[Any, np.dtype[np.float64]]
Terms = dict[str, dict[str, Array]]


def entry_terms(case: Any, trace: Trace) -> Terms:
    """{quantity: {name: terms}} for "outputs", "intermediates", "grads" and "input_grads" of `case`
    (the trace's names), from the float64 reference's `trace`; {} where the trace lacks its
    intermediates."""
    needed = ("layers.0.net",) if case.network.kind == "mlp" else ("rnn.net", "rnn.h", "readout.net")
    if any(name not in trace.intermediates for name in needed):
        return {}
    upstream = _upstream(case, _float(trace.outputs))
    with np.errstate(all="ignore"):
        return _mlp(case, trace, upstream) if case.network.kind == "mlp" else _rnn(case, trace, upstream)


def _float(value: Any) -> Array:
    array: Array = np.asarray(value, dtype=np.float64)
    return array


def _upstream(case: Any, outputs: Array) -> Array:
    """The terms of dL/dy at the reference's outputs: the loss's gradient is a difference, y - t or
    softmax - p, that cancels where the fit is good (a softmax of 0.86 for the right class gives
    -0.14 from terms of 1.86), so its terms are the sum's: c (|y| + |t|) for the squared errors,
    (|y| + |t|) / (n y (1 - y)) for bce (its floor of y (1 - y) at 1e-12, BCELoss's), (s sum(p) + p) / N
    for cross-entropy over N examples. Never below |dL/dy| itself (torch.nn's loss, autograd)."""
    out = case_tensor(outputs).requires_grad_(True)
    targets = case_tensor(case.targets)
    gradient: Array = torch.autograd.grad(loss_value(case.loss, out, targets), out)[0].detach().numpy()
    y = np.abs(outputs)
    if case.loss == "cross_entropy":
        classes = outputs.shape[-1]
        logits = torch.as_tensor(outputs.reshape(-1, classes), dtype=torch.float64)
        softmax: Array = torch.softmax(logits, dim=-1).numpy()
        if targets.dtype == torch.int64:
            p = np.eye(classes)[targets.numpy().reshape(-1)]
        else:
            p = np.abs(_float(case.targets).reshape(-1, classes))
        terms = ((softmax * p.sum(axis=-1, keepdims=True) + p) / len(logits)).reshape(outputs.shape)
    else:
        t = np.abs(_float(case.targets))
        if case.loss == "bce":
            terms = (y + t) / (outputs.size * np.maximum(outputs * (1.0 - outputs), 1e-12))
        else:
            terms = {"half_sse": 1.0, "sse": 2.0}.get(case.loss, 2.0 / outputs.size) * (y + t)
    result: Array = np.maximum(np.abs(gradient), terms)
    return result


def _slope(activation: str, net: Array) -> Array:
    """|f'(net)| of an elementwise activation, by autograd of its torch.nn module."""
    leaf = torch.as_tensor(net, dtype=torch.float64).requires_grad_(True)
    out = activation_module(activation)(leaf)
    slope: Array = torch.autograd.grad(out, leaf, torch.ones_like(out))[0].detach().numpy()
    return np.abs(slope)


def _through(activation: str, net: Array, out: Array, magnitude: Array) -> Array:
    """|J| magnitude (|J| is symmetric for every activation here): the absolute-value chain rule
    through an activation, forward (from the net's terms) and backward (from |dL/dout|)."""
    if activation == "softmax":  # J = diag(s) - s s^T; |J|_ij = s_i (1 - s_i) at i = j, s_i s_j elsewhere
        inner = np.sum(out * magnitude, axis=-1, keepdims=True)
        result: Array = out * (inner + (1.0 - 2.0 * out) * magnitude)
        return result
    return _slope(activation, net) * magnitude


def _mlp(case: Any, trace: Trace, upstream: Array) -> Terms:
    network, params = case.network, {name: np.abs(_float(value)) for name, value in case.params.items()}
    layers = len(network.activations)
    nets = [_float(trace.intermediates[f"layers.{i}.net"]) for i in range(layers)]
    outs = [_float(trace.intermediates[f"layers.{i}.out"]) for i in range(layers)]
    forward = [np.abs(_float(case.inputs))]  # F of each layer's input, then of its output
    intermediates: dict[str, Array] = {}
    for i in range(layers):
        bias = params.get(f"layers.{i}.bias", 0.0)
        net_terms = forward[i] @ params[f"layers.{i}.weight"].T + bias
        forward.append(_through(network.activations[i], nets[i], outs[i], net_terms) + np.abs(outs[i]))
        intermediates.update({f"layers.{i}.net": net_terms, f"layers.{i}.out": forward[-1]})
    grads: dict[str, Array] = {}
    magnitude = upstream
    for i in range(layers - 1, -1, -1):
        magnitude = _through(network.activations[i], nets[i], outs[i], magnitude)  # |dL/dnet|, absolute
        grads[f"layers.{i}.weight"] = magnitude.T @ forward[i]
        if f"layers.{i}.bias" in params:
            grads[f"layers.{i}.bias"] = magnitude.sum(axis=0)
        magnitude = magnitude @ params[f"layers.{i}.weight"]
    return {
        "outputs": {"outputs": forward[-1]},
        "intermediates": intermediates,
        "grads": grads,
        "input_grads": {"inputs": magnitude},
    }


def _rnn(case: Any, trace: Trace, upstream: Array) -> Terms:
    network = case.network
    params = {name: np.abs(_float(value)) for name, value in case.params.items()}
    x = np.abs(_float(case.inputs))  # [B, T, I]
    nets, states = _float(trace.intermediates["rnn.net"]), _float(trace.intermediates["rnn.h"])  # [B, T, H]
    batch, steps, hidden = states.shape
    w_ih, w_hh = params["rnn.weight_ih"], params["rnn.weight_hh"]
    bias = params["rnn.bias_ih"] + params["rnn.bias_hh"] if "rnn.bias_ih" in params else 0.0
    # forward: F of h_{t-1} for each step (|h0| at the start), the nets' terms A and the states' F
    previous, net_terms, state_terms = np.zeros_like(states), np.zeros_like(states), np.zeros_like(states)
    carried = np.zeros((batch, hidden)) if case.h0 is None else np.abs(_float(case.h0))
    for t in range(steps):
        previous[:, t, :] = carried
        net_terms[:, t, :] = x[:, t, :] @ w_ih.T + carried @ w_hh.T + bias
        carried = _through(network.nonlinearity, nets[:, t, :], states[:, t, :], net_terms[:, t, :])
        carried = state_terms[:, t, :] = carried + np.abs(states[:, t, :])
    every = network.readout == "every_step"
    readin = state_terms if every else state_terms[:, -1, :]
    readout_net, outputs = _float(trace.intermediates["readout.net"]), _float(trace.outputs)
    readout_terms = readin @ params["readout.weight"].T + params.get("readout.bias", 0.0)
    output_terms = _through(network.output_activation, readout_net, outputs, readout_terms) + np.abs(outputs)
    intermediates = {
        "rnn.net": net_terms,
        "rnn.h": state_terms,
        "readout.net": readout_terms,
        "readout.out": output_terms,
    }
    # backward
    readout = _through(network.output_activation, readout_net, outputs, upstream)
    flat = readout.reshape(-1, readout.shape[-1])
    grads = {"readout.weight": flat.T @ readin.reshape(-1, hidden)}
    if "readout.bias" in params:
        grads["readout.bias"] = flat.sum(axis=0)
    from_readout = readout @ params["readout.weight"]  # [B, T, H] or [B, H]
    weight_ih, weight_hh, bias_terms = np.zeros_like(w_ih), np.zeros_like(w_hh), np.zeros(hidden)
    inputs, later, chunk = np.zeros_like(x), np.zeros((batch, hidden)), network.truncate or steps
    for t in range(steps - 1, -1, -1):
        if (t + 1) % chunk == 0:  # no gradient crosses a chunk boundary
            later = np.zeros((batch, hidden))
        direct = from_readout[:, t, :] if every else (from_readout if t == steps - 1 else 0.0)
        magnitude = _through(network.nonlinearity, nets[:, t, :], states[:, t, :], direct + later)
        weight_ih += magnitude.T @ x[:, t, :]
        weight_hh += magnitude.T @ previous[:, t, :]
        bias_terms += magnitude.sum(axis=0)
        inputs[:, t, :] = magnitude @ w_ih
        later = magnitude @ w_hh
    grads.update({"rnn.weight_ih": weight_ih, "rnn.weight_hh": weight_hh})
    if "rnn.bias_ih" in params:
        grads.update({"rnn.bias_ih": bias_terms, "rnn.bias_hh": bias_terms.copy()})
    input_grads = {"inputs": inputs}
    if case.h0 is not None:
        input_grads["h0"] = later
    return {
        "outputs": {"outputs": output_terms},
        "intermediates": intermediates,
        "grads": grads,
        "input_grads": input_grads,
    }
