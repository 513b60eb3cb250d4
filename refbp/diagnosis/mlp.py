"""An MLP's forward and backward re-derived in plain float64 numpy, with a classic bug switched on or off.

A reference for the diagnosis (never refbp.nn's code): net_i = x_i W_i^T + b_i, out_i = f_i(net_i);
back from dL/dout of the last layer, dL/dnet_i = f_i'(net_i) dL/dout_i, dL/dW_i = dL/dnet_i^T x_i,
dL/db_i = sum over the batch, dL/dx_i = dL/dnet_i W_i (every unit of the next layer a path).
"""

from __future__ import annotations

import numpy as np

from ..trace import Trace
from .functions import activate, activation_backward, loss_gradient, loss_value
from .variant import CORRECT, Variant


def forward(case, params, inputs):
    """(nets, outs) of every layer."""
    nets, outs, x = [], [], inputs
    for i, name in enumerate(case.network.activations):
        net = x @ params[f"layers.{i}.weight"].T
        if case.network.bias:
            net = net + params[f"layers.{i}.bias"]
        x = activate(name, net)
        nets.append(net)
        outs.append(x)
    return nets, outs


def propagate(grad_net, weight, paths: str):
    """dL/dx of a layer's input: every unit k of the layer a path (grad_net W), or one path only."""
    if paths == "first":
        return grad_net[:, :1] * weight[:1, :]
    if paths == "transposed":  # square layers: the error sent back through W^T where W belongs
        # (a layer that is not square cannot have that slip: its shapes would not fit)
        return grad_net @ (weight.T if weight.shape[0] == weight.shape[1] else weight)
    if paths == "same":
        n_out, n_in = weight.shape
        result = np.zeros((grad_net.shape[0], n_in))
        for j in range(min(n_in, n_out)):
            result[:, j] = grad_net[:, j] * weight[j, j]
        return result
    return grad_net @ weight


def derive(case, params=None, variant: Variant = CORRECT) -> Trace:
    """Forward, loss, error signals and gradients of `case` at `params` (default: the case's)."""
    params = {k: np.asarray(v, dtype=np.float64) for k, v in (params or case.params).items()}
    inputs = np.asarray(case.inputs, dtype=np.float64)
    nets, outs = forward(case, params, inputs)
    outputs = outs[-1]
    trace = Trace(outputs=outputs, loss=loss_value(case.loss, outputs, case.targets))
    for i in range(len(nets)):
        trace.intermediates[f"layers.{i}.net"] = nets[i]
        trace.intermediates[f"layers.{i}.out"] = outs[i]
    picked = slice(None) if variant.example is None else slice(variant.example, variant.example + 1)
    grad_out = loss_gradient(case.loss, outputs, case.targets, variant.loss)
    for i in reversed(range(len(nets))):
        grad_net = activation_backward(case.network.activations[i], nets[i], outs[i], grad_out, variant.activation)
        trace.error_signals[f"layers.{i}.grad_out"] = grad_out
        trace.error_signals[f"layers.{i}.grad_net"] = grad_net
        x = inputs if i == 0 else outs[i - 1]
        trace.grads[f"layers.{i}.weight"] = grad_net[picked].T @ x[picked]
        if case.network.bias:
            trace.grads[f"layers.{i}.bias"] = grad_net[picked].sum(axis=0)
        grad_out = propagate(grad_net, params[f"layers.{i}.weight"], variant.paths)
    trace.input_grads["inputs"] = grad_out
    trace.grads = {name: trace.grads[name] for name in params}
    return trace


def eager_sgd_step(case, params, variant: Variant) -> dict:
    """One SGD step of the slip `update-before-all-gradients`: each layer is updated as soon as its
    gradient is known, so the error sent to the layer below goes through the updated weights."""
    params = dict(params)
    inputs = np.asarray(case.inputs, dtype=np.float64)
    nets, outs = forward(case, params, inputs)
    grad_out = loss_gradient(case.loss, outs[-1], case.targets, variant.loss)
    frozen, lr = case.train.frozen, case.train.lr
    for i in reversed(range(len(nets))):
        grad_net = activation_backward(case.network.activations[i], nets[i], outs[i], grad_out, variant.activation)
        x = inputs if i == 0 else outs[i - 1]
        gradients = {f"layers.{i}.weight": grad_net.T @ x}
        if case.network.bias:
            gradients[f"layers.{i}.bias"] = grad_net.sum(axis=0)
        for name, gradient in gradients.items():
            if name not in frozen:
                params[name] = params[name] - lr * (gradient + case.train.weight_decay * params[name])
        grad_out = propagate(grad_net, params[f"layers.{i}.weight"], variant.paths)
    return params
