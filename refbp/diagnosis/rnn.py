"""A simple RNN's forward and backpropagation through time re-derived in plain float64 numpy,
with a classic BPTT bug switched on or off.

A reference for the diagnosis (never refbp.nn's code): net_t = x_t W_ih^T + b_ih + h_{t-1} W_hh^T
+ b_hh, h_t = f(net_t), a linear readout of every step's state or the last one. Back in time,
dL/dh_t = (readout's share) + dL/dnet_{t+1} W_hh, except where truncated BPTT holds the state
entering a chunk constant (torch's detach()).
"""

from __future__ import annotations

import numpy as np

from ..trace import Trace
from .functions import activate, activation_backward, loss_gradient, loss_value
from .variant import CORRECT, Variant


def cuts(case, variant: Variant) -> set[int]:
    """The steps t (0-based) whose entering state h_{t-1} gets no gradient back from step t."""
    steps = case.steps
    k = variant.truncate or case.network.truncate
    found = set(range(k, steps, k)) if k else set()
    if variant.rnn == "cut-late":
        found = {t + 1 for t in found if t + 1 < steps}
    if variant.rnn == "cut-early":
        found = {t - 1 for t in found if t > 1}
    return found


def derive(case, params=None, variant: Variant = CORRECT) -> Trace:
    network = case.network
    params = {k: np.asarray(v, dtype=np.float64) for k, v in (params or case.params).items()}
    x = np.asarray(case.inputs, dtype=np.float64)
    batch, steps = x.shape[0], x.shape[1]
    w_ih, w_hh, w_out = params["rnn.weight_ih"], params["rnn.weight_hh"], params["readout.weight"]
    bias = params["rnn.bias_ih"] + params["rnn.bias_hh"] if network.bias else 0.0
    h0 = np.zeros((batch, network.hidden_size)) if case.h0 is None else np.asarray(case.h0, dtype=np.float64)
    net_steps, state_steps, h = [], [], h0
    for t in range(steps):
        net_steps.append(x[:, t] @ w_ih.T + h @ w_hh.T + bias)
        h = activate(network.nonlinearity, net_steps[-1])
        state_steps.append(h)
    nets, states = np.stack(net_steps, axis=1), np.stack(state_steps, axis=1)
    every = network.readout == "every_step"
    read = states if every else states[:, -1]
    readout_net = read @ w_out.T + (params["readout.bias"] if network.readout_bias else 0.0)
    outputs = activate(network.output_activation, readout_net)
    trace = Trace(
        outputs=outputs,
        loss=loss_value(case.loss, outputs, case.targets),
        intermediates={"rnn.net": nets, "rnn.h": states, "readout.net": readout_net, "readout.out": outputs},
    )
    picked = slice(None) if variant.example is None else slice(variant.example, variant.example + 1)
    grad_outputs = loss_gradient(case.loss, outputs, case.targets, variant.loss)
    grad_readout = activation_backward(
        network.output_activation, readout_net, outputs, grad_outputs, variant.activation
    )
    flat_grad, flat_read = grad_readout[picked].reshape(-1, w_out.shape[0]), read[picked].reshape(-1, w_out.shape[1])
    trace.grads["readout.weight"] = flat_grad.T @ flat_read
    if network.readout_bias:
        trace.grads["readout.bias"] = flat_grad.sum(axis=0)
    grad_states = np.zeros_like(states)
    if every:
        grad_states += grad_readout @ w_out
    else:
        grad_states[:, -1] = grad_readout @ w_out
    cut = cuts(case, variant)
    grad_nets, carried = np.zeros_like(nets), np.zeros_like(h0)
    last = 1 if variant.rnn == "first-step-skipped" else 0
    for t in reversed(range(last, steps)):
        grad_states[:, t] += carried
        grad_nets[:, t] = activation_backward(
            network.nonlinearity, nets[:, t], states[:, t], grad_states[:, t], variant.activation
        )
        recurrent = variant.rnn == "no-recurrent" or t in cut
        carried = np.zeros_like(h0) if recurrent else grad_nets[:, t] @ w_hh
    previous = np.concatenate([h0[:, None], states[:, :-1]], axis=1)
    if variant.rnn == "current-state-in-whh":
        previous = states
    g = grad_nets[picked]
    trace.grads["rnn.weight_ih"] = np.einsum("bth,bti->hi", g, x[picked])
    trace.grads["rnn.weight_hh"] = np.einsum("bth,btj->hj", g, previous[picked])
    if network.bias:
        trace.grads["rnn.bias_ih"] = g.sum(axis=(0, 1))
        trace.grads["rnn.bias_hh"] = g.sum(axis=(0, 1))
    trace.grads = {name: trace.grads[name] for name in params}
    trace.input_grads = {"inputs": grad_nets @ w_ih}
    if case.h0 is not None:
        trace.input_grads["h0"] = carried
    trace.error_signals = {"rnn.grad_net": grad_nets, "rnn.grad_h": grad_states, "rnn.grad_h0": carried}
    return trace
