"""A narrow, partial implementation in the style of Mazur's 2-2-2 network, for `refbp check` and
`refbp fuzz`: sigmoid layers, half_sse, plain SGD, and no bias gradients (biases are used in the
forward, never trained), as in "A Step by Step Backpropagation Example".

    refbp check --impl examples/mazur_no_bias.py:factory cases/seed
    refbp fuzz --impl examples/mazur_no_bias.py:factory --examples 100

It declares what it does not compute (`not_provided`: PARTIAL, never a failure) and what it
supports (`capabilities`: fuzzing draws only those cases), docs/formats.md section 8.
"""

from __future__ import annotations

import numpy as np


class SigmoidNetwork:
    def __init__(self, case: dict):
        self.depth = len(case["network"]["activations"])
        self.train_spec = case.get("train") or {}

    def _outs(self, params, x):
        outs = [x]
        for i in range(self.depth):
            net = outs[-1] @ params[f"layers.{i}.weight"].T + params[f"layers.{i}.bias"]
            outs.append(1.0 / (1.0 + np.exp(-net)))
        return outs

    def forward(self, params, inputs):
        return self._outs(params, inputs)[-1]

    def loss(self, params, inputs, targets):
        return float(0.5 * np.sum((targets - self.forward(params, inputs)) ** 2))

    def gradients(self, params, inputs, targets):
        outs = self._outs(params, inputs)
        delta = -(targets - outs[-1]) * outs[-1] * (1.0 - outs[-1])  # dE/dnet of the output layer
        grads = {}
        for i in reversed(range(self.depth)):
            grads[f"layers.{i}.weight"] = delta.T @ outs[i]
            delta = (delta @ params[f"layers.{i}.weight"]) * outs[i] * (1.0 - outs[i])
        return grads  # no layers.{i}.bias: declared below

    def train(self, params, inputs, targets):
        params = {k: v.copy() for k, v in params.items()}
        frozen = set(self.train_spec.get("frozen", []))
        for _ in range(self.train_spec["steps"]):
            grads = self.gradients(params, inputs, targets)
            for name, gradient in grads.items():
                if name not in frozen:
                    params[name] = params[name] - self.train_spec["lr"] * gradient
        return params


def factory(case: dict):
    network, train = case["network"], case.get("train") or {}
    if (
        network["kind"] != "mlp"
        or set(network["activations"]) != {"sigmoid"}
        or not network.get("bias", True)
        or case["loss"] != "half_sse"
        or case.get("dtype", "float64") != "float64"
        or (train and (train["optimizer"] != "sgd" or train.get("momentum", 0) or train.get("weight_decay", 0)))
    ):
        return None
    return SigmoidNetwork(case)


factory.not_provided = ("layers.*.bias",)  # the bias gradients (and so training wherever a bias trains)
factory.capabilities = {
    "kinds": ["mlp"],
    "activations": ["sigmoid"],
    "losses": ["half_sse"],
    "optimizers": ["sgd"],
    "momentum": False,
    "weight_decay": False,
    "dtypes": ["float64"],
    "bias": [True],
}
