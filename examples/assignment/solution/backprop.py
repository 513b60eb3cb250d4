"""The assignment's reference solution: a two-or-more-layer MLP with sigmoid (or identity)
units, trained by plain SGD, with backpropagation written out by hand. It earns full marks:

    refbp grade --impl examples/assignment/solution/backprop.py:factory \
        --rubric examples/assignment/rubric.json --out results/

Each step of the backward pass is a method of its own, so that the classic wrong solutions
in ../wrong/ can each change exactly one of them.
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

    # forward ----------------------------------------------------------------------------
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

    def loss_slope(self, y, targets):
        """dL/dy."""
        if self.loss_name == "half_sse":
            return y - targets
        return 2.0 * (y - targets) / y.size

    # backward ---------------------------------------------------------------------------
    def activation_slope(self, activation, net, out):
        """f'(net), from the layer's output: out (1 - out) for the sigmoid."""
        return out * (1.0 - out) if activation == "sigmoid" else np.ones_like(net)

    def weight_gradient(self, delta, previous_out):
        """dL/dW = delta^T x: [units, inputs], summed over the batch."""
        return delta.T @ previous_out

    def bias_gradient(self, delta):
        """dL/db: every example's delta, summed over the batch."""
        return delta.sum(axis=0)

    def gradients(self, params, inputs, targets):
        nets, outs = self.layers(params, inputs)
        upstream = self.loss_slope(outs[-1], targets)
        grads = {}
        for i in reversed(range(len(self.activations))):
            delta = upstream * self.activation_slope(self.activations[i], nets[i], outs[i + 1])
            grads[f"layers.{i}.weight"] = self.weight_gradient(delta, outs[i])
            grads[f"layers.{i}.bias"] = self.bias_gradient(delta)
            upstream = delta @ params[f"layers.{i}.weight"]
        return grads

    # training ---------------------------------------------------------------------------
    def step(self, value, gradient):
        """One SGD step: down the gradient."""
        return value - self.lr * gradient

    def train(self, params, inputs, targets):
        params = {name: np.array(value, dtype=np.float64) for name, value in params.items()}
        for _ in range(self.steps):
            grads = self.gradients(params, inputs, targets)  # every gradient before any update
            params = {name: self.step(value, grads[name]) for name, value in params.items()}
        return params


def supported(case: dict) -> bool:
    network, train = case["network"], case.get("train") or {}
    return (
        network["kind"] == "mlp"
        and network.get("bias", True)
        and case["loss"] in LOSSES
        and all(a in ACTIVATIONS for a in network["activations"])
        and train.get("optimizer", "sgd") == "sgd"
        and not train.get("momentum")
        and not train.get("frozen")
        and not train.get("weight_decay")
    )


def factory(case: dict):
    return MLP(case) if supported(case) else None


factory.kinds = ("mlp",)
