"""A dense layer as a custom torch.autograd.Function with a hand-written backward, checked
by refbp through the adapter protocol:

    refbp check --impl examples/torch_dense_function.py:factory

The layer's backward (dL/dx = g W, dL/dW = g^T x, dL/db = sum g) is written by hand; torch's
autograd only chains it with torch's own activations and loss. This is how a user checks a
custom op: refbp compares its gradients with its reference in float64 and with finite
differences of this implementation's own loss. MLPs only; every layer in float64.
"""

from __future__ import annotations

import torch


class Dense(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight)
        return x @ weight.T + bias

    @staticmethod
    def backward(ctx, grad_net):
        x, weight = ctx.saved_tensors
        return grad_net @ weight, grad_net.T @ x, grad_net.sum(dim=0)


ACTIVATIONS = {
    "identity": lambda z: z,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "leaky_relu": lambda z: torch.nn.functional.leaky_relu(z, 0.01),
    "elu": torch.nn.functional.elu,
    "softplus": torch.nn.functional.softplus,
    "softmax": lambda z: torch.softmax(z, dim=-1),
}


def _loss(name, y, t):
    if name == "half_sse":
        return 0.5 * ((y - t) ** 2).sum()
    if name == "sse":
        return ((y - t) ** 2).sum()
    if name == "mse":
        return ((y - t) ** 2).mean()
    if name == "bce":
        return torch.nn.functional.binary_cross_entropy(y, t)
    return torch.nn.functional.cross_entropy(y, t)  # MLP outputs are [batch, classes]


class TorchDenseMLP:
    def __init__(self, case: dict):
        self.activations = case["network"]["activations"]
        self.bias = case["network"].get("bias", True)
        self.loss_name = case["loss"]

    def _outputs(self, params, x):
        for i, name in enumerate(self.activations):
            weight = params[f"layers.{i}.weight"]
            bias = params[f"layers.{i}.bias"] if self.bias else torch.zeros(weight.shape[0], dtype=weight.dtype)
            x = ACTIVATIONS[name](Dense.apply(x, weight, bias))
        return x

    @staticmethod
    def _tensors(params, requires_grad=False):
        return {k: torch.tensor(v, dtype=torch.float64, requires_grad=requires_grad) for k, v in params.items()}

    @staticmethod
    def _targets(targets):
        return torch.tensor(targets) if targets.dtype.kind == "i" else torch.tensor(targets, dtype=torch.float64)

    def forward(self, params, inputs):
        with torch.no_grad():
            return self._outputs(self._tensors(params), torch.tensor(inputs, dtype=torch.float64)).numpy()

    def loss(self, params, inputs, targets):
        with torch.no_grad():
            y = self._outputs(self._tensors(params), torch.tensor(inputs, dtype=torch.float64))
            return float(_loss(self.loss_name, y, self._targets(targets)))

    def gradients(self, params, inputs, targets):
        tensors = self._tensors(params, requires_grad=True)
        y = self._outputs(tensors, torch.tensor(inputs, dtype=torch.float64))
        _loss(self.loss_name, y, self._targets(targets)).backward()
        return {name: tensor.grad.numpy() for name, tensor in tensors.items()}


def factory(case: dict):
    if case["network"]["kind"] != "mlp":
        return None
    return TorchDenseMLP(case)


factory.kinds = ("mlp",)  # what `refbp fuzz --impl` draws for it (docs/formats.md section 8)
