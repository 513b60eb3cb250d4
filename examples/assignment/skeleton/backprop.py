"""Assignment 2: backpropagation by hand. Fill in every TODO, then submit this file.

Your MLP has sigmoid (or identity) units and is trained by plain SGD. refbp calls
`factory(case)` for each case of the assignment and then your object's methods with numpy
arrays (float64):

    forward(params, inputs)            -> outputs [batch, n_out]
    loss(params, inputs, targets)      -> a float
    gradients(params, inputs, targets) -> {"layers.0.weight": dL/dW0, "layers.0.bias": dL/db0, ...}
    train(params, inputs, targets)     -> the parameters after the case's SGD steps

Layer i computes net = out_prev @ W_i.T + b_i and out = f(net), W_i of shape [n_out, n_in].
The losses: half_sse = sum of 1/2 (y - t)^2; mse = the mean of (y - t)^2 over every entry.
Check your work before you submit:

    refbp check --impl backprop.py:factory cases/
    refbp grade --impl backprop.py:factory --rubric rubric.json --out results/
"""

from __future__ import annotations

import numpy as np

ACTIVATIONS = ("sigmoid", "identity")
LOSSES = ("half_sse", "mse")


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


class MLP:
    def __init__(self, case: dict):
        self.activations = case["network"]["activations"]
        self.loss_name = case["loss"]
        train = case.get("train") or {}
        self.lr, self.steps = train.get("lr", 0.0), train.get("steps", 0)

    # forward (given) ---------------------------------------------------------------------
    def layers(self, params, x):
        """Every layer's net input and output: nets[i] = outs[i] W_i^T + b_i, outs[i+1] = f(nets[i])."""
        nets, outs = [], [x]
        for i, activation in enumerate(self.activations):
            net = outs[-1] @ params[f"layers.{i}.weight"].T + params[f"layers.{i}.bias"]
            nets.append(net)
            outs.append(sigmoid(net) if activation == "sigmoid" else net)
        return nets, outs

    def forward(self, params, inputs):
        return self.layers(params, inputs)[1][-1]

    def loss(self, params, inputs, targets):
        y = self.forward(params, inputs)
        if self.loss_name == "half_sse":
            return float(0.5 * np.sum((y - targets) ** 2))
        return float(np.mean((y - targets) ** 2))

    # backward (yours) --------------------------------------------------------------------
    def loss_slope(self, y, targets):
        """dL/dy, of the shape of y."""
        raise NotImplementedError("TODO: dL/dy for half_sse and for mse (mind the mean)")

    def activation_slope(self, activation, net, out):
        """f'(net) of the layer's activation, elementwise."""
        raise NotImplementedError("TODO: the sigmoid's slope (and identity's)")

    def weight_gradient(self, delta, previous_out):
        """dL/dW from delta = dL/dnet [batch, n_out] and the layer's input [batch, n_in]."""
        raise NotImplementedError("TODO: dL/dW, of W's shape [n_out, n_in]")

    def bias_gradient(self, delta):
        """dL/db from delta = dL/dnet [batch, n_out]."""
        raise NotImplementedError("TODO: dL/db, of b's shape [n_out]")

    def gradients(self, params, inputs, targets):
        nets, outs = self.layers(params, inputs)
        upstream = self.loss_slope(outs[-1], targets)
        grads = {}
        for i in reversed(range(len(self.activations))):
            # TODO: delta = dL/dnet of layer i from `upstream` (dL/dout of layer i), then the
            # layer's two gradients, then dL/dout of the layer below for the next turn.
            raise NotImplementedError("TODO: the backward pass through layer i")
        return grads

    # training (yours) --------------------------------------------------------------------
    def step(self, value, gradient):
        """One SGD step of one parameter."""
        raise NotImplementedError("TODO: one SGD step with self.lr")

    def train(self, params, inputs, targets):
        params = {name: np.array(value, dtype=np.float64) for name, value in params.items()}
        for _ in range(self.steps):
            grads = self.gradients(params, inputs, targets)  # every gradient before any update
            params = {name: self.step(value, grads[name]) for name, value in params.items()}
        return params


def supported(case: dict) -> bool:
    network, train = case["network"], case.get("train") or {}
    return (network["kind"] == "mlp" and network.get("bias", True) and case["loss"] in LOSSES
            and all(a in ACTIVATIONS for a in network["activations"])
            and train.get("optimizer", "sgd") == "sgd" and not train.get("momentum") and not train.get("frozen")
            and not train.get("weight_decay"))


def factory(case: dict):
    return MLP(case) if supported(case) else None


factory.kinds = ("mlp",)
