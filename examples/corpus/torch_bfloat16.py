"""torch adapter computing in bfloat16, written with torch.nn.functional on plain tensors (no nn.Module)."""

# refbp check --impl examples/corpus/torch_bfloat16.py:factory --dtype bfloat16
#
# The parameters are leaf tensors of torch.bfloat16; an MLP is F.linear and the activation's
# functional form per layer, an RNN the recurrence written step by step with F.linear and
# torch.tanh / torch.relu (truncated BPTT: the state detached at each chunk's start), a readout
# F.linear; the losses are torch.nn.functional's; gradients come from autograd; training applies
# torch.optim.SGD / Adam to the bfloat16 tensors. A bfloat16 case's numbers arrive in float32
# arrays (numpy has no bfloat16); they are bfloat16 numbers, converted exactly. refbp's finite
# differences of this implementation's own loss hand it float64 parameters: computed in float64.

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

FUNCTIONS = {
    "identity": lambda z: z,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": F.relu,
    "leaky_relu": lambda z: F.leaky_relu(z, 0.01),
    "elu": F.elu,
    "softplus": F.softplus,
    "softmax": lambda z: F.softmax(z, dim=-1),
}


def loss_of(name: str, y, t):
    if name == "half_sse":
        return 0.5 * ((y - t) ** 2).sum()
    if name == "sse":
        return ((y - t) ** 2).sum()
    if name == "mse":
        return F.mse_loss(y, t)
    if name == "bce":
        return F.binary_cross_entropy(y, t)
    if name == "cross_entropy":
        classes = y.shape[-1]
        flat_t = t.reshape(-1) if t.dtype == torch.int64 else t.reshape(-1, classes)
        return F.cross_entropy(y.reshape(-1, classes), flat_t)
    raise ValueError(f"unknown loss {name!r}")


class Functional:
    def __init__(self, case: dict):
        self.network, self.loss_name = case["network"], case["loss"]
        self.h0 = case.get("h0")
        self.spec = case.get("train") or {}

    def _dtype(self, array) -> torch.dtype:
        return torch.float64 if np.asarray(array).dtype == np.float64 else torch.bfloat16

    def _tensor(self, array, dtype):
        array = np.asarray(array)
        if array.dtype.kind == "i":
            return torch.as_tensor(array, dtype=torch.int64)
        return torch.as_tensor(array.astype(np.float64)).to(dtype)  # bfloat16 numbers: exact

    def _leaves(self, params, dtype):
        return {name: self._tensor(value, dtype).requires_grad_(True) for name, value in params.items()}

    def _outputs(self, p, x):
        net = self.network
        if net["kind"] == "mlp":
            for i, name in enumerate(net["activations"]):
                x = FUNCTIONS[name](F.linear(x, p[f"layers.{i}.weight"], p.get(f"layers.{i}.bias")))
            return x
        batch, steps = x.shape[0], x.shape[1]
        h = torch.zeros(batch, net["hidden_size"], dtype=x.dtype) if self.h0 is None else self._tensor(self.h0, x.dtype)
        k, cell, states = net.get("truncate") or steps, FUNCTIONS[net.get("nonlinearity", "tanh")], []
        for t in range(steps):
            if t > 0 and t % k == 0:
                h = h.detach()
            h = cell(
                F.linear(x[:, t], p["rnn.weight_ih"], p.get("rnn.bias_ih"))
                + F.linear(h, p["rnn.weight_hh"], p.get("rnn.bias_hh"))
            )
            states.append(h)
        read = torch.stack(states, dim=1) if net.get("readout", "every_step") == "every_step" else states[-1]
        return FUNCTIONS[net.get("output_activation", "identity")](
            F.linear(read, p["readout.weight"], p.get("readout.bias"))
        )

    def _loss(self, p, inputs, targets, dtype):
        return loss_of(self.loss_name, self._outputs(p, self._tensor(inputs, dtype)), self._tensor(targets, dtype))

    @staticmethod
    def _numpy(tensor):
        return tensor.detach().to(torch.float64).numpy()

    def forward(self, params, inputs):
        dtype = self._dtype(next(iter(params.values())))
        with torch.no_grad():
            return self._numpy(self._outputs(self._leaves(params, dtype), self._tensor(inputs, dtype)))

    def loss(self, params, inputs, targets):
        dtype = self._dtype(next(iter(params.values())))
        with torch.no_grad():
            return float(self._loss(self._leaves(params, dtype), inputs, targets, dtype))

    def gradients(self, params, inputs, targets):
        dtype = self._dtype(next(iter(params.values())))
        p = self._leaves(params, dtype)
        self._loss(p, inputs, targets, dtype).backward()
        return {name: tensor.grad for name, tensor in p.items()}  # bfloat16 tensors: refbp widens them

    def train(self, params, inputs, targets):
        dtype = self._dtype(next(iter(params.values())))
        p, spec = self._leaves(params, dtype), self.spec
        trained = [t for name, t in p.items() if name not in set(spec.get("frozen") or [])]
        if spec["optimizer"] == "sgd":
            optimizer = torch.optim.SGD(
                trained, lr=spec["lr"], momentum=spec.get("momentum", 0.0), weight_decay=spec.get("weight_decay", 0.0)
            )
        else:
            optimizer = torch.optim.Adam(
                trained,
                lr=spec["lr"],
                betas=tuple(spec.get("betas", (0.9, 0.999))),
                eps=spec.get("eps", 1e-8),
                weight_decay=spec.get("weight_decay", 0.0),
            )
        for _ in range(spec.get("steps", 1)):
            optimizer.zero_grad()
            self._loss(p, inputs, targets, dtype).backward()
            optimizer.step()
        return {name: self._numpy(tensor) for name, tensor in p.items()}


def factory(case: dict):
    """bfloat16 cases only, MLP and RNN."""
    if case["network"]["kind"] not in ("mlp", "rnn") or case.get("dtype", "float64") != "bfloat16":
        return None
    return Functional(case)


factory.kinds = ("mlp", "rnn")
