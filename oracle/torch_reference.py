"""The autograd reference: the case rebuilt from `torch.nn` modules and `torch.optim`, in float64.

Nothing here imports refbp.nn. Each layer is a `torch.nn.Linear` plus the activation's
own `torch.nn` module, the loss is the `torch.nn` loss, the gradients come from autograd
and the update from `torch.optim` itself, so the update rule is checked, not only the
gradient.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from refbp.trace import Trace

DTYPE = torch.float64


def activation_module(name: str) -> torch.nn.Module:
    return {
        "identity": torch.nn.Identity,
        "sigmoid": torch.nn.Sigmoid,
        "tanh": torch.nn.Tanh,
        "relu": torch.nn.ReLU,
        "leaky_relu": lambda: torch.nn.LeakyReLU(0.01),
        "elu": lambda: torch.nn.ELU(alpha=1.0),
        "softplus": torch.nn.Softplus,
        "softmax": lambda: torch.nn.Softmax(dim=-1),
    }[name]()


def loss_value(name: str, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The case's loss with torch.nn's own loss modules (leading axes flattened into examples)."""
    if name == "half_sse":
        return 0.5 * torch.nn.MSELoss(reduction="sum")(outputs, targets)
    if name == "sse":
        return torch.nn.MSELoss(reduction="sum")(outputs, targets)
    if name == "mse":
        return torch.nn.MSELoss()(outputs, targets)
    if name == "bce":
        return torch.nn.BCELoss()(outputs, targets)
    if name == "cross_entropy":
        classes = outputs.shape[-1]
        logits = outputs.reshape(-1, classes)
        flat = targets.reshape(-1) if targets.dtype == torch.int64 else targets.reshape(-1, classes)
        return torch.nn.CrossEntropyLoss()(logits, flat)
    raise ValueError(f"unknown loss {name!r}")


class _MLP(torch.nn.Module):
    def __init__(self, network):
        super().__init__()
        self.layers = torch.nn.ModuleList(
            torch.nn.Linear(n_in, n_out, bias=network.bias, dtype=DTYPE)
            for n_in, n_out in zip(network.sizes[:-1], network.sizes[1:])
        )
        self.activations = torch.nn.ModuleList(activation_module(a) for a in network.activations)

    def forward(self, x, h0=None, record=None):
        for i, (layer, activation) in enumerate(zip(self.layers, self.activations)):
            net = layer(x)
            x = activation(net)
            if record is not None:
                record[f"layers.{i}.net"] = net
                record[f"layers.{i}.out"] = x
        return x


def build_module(network) -> torch.nn.Module:
    if network.kind == "mlp":
        return _MLP(network)
    if network.kind == "rnn":
        from .torch_rnn import RNNModule

        return RNNModule(network)
    raise ValueError(f"unknown network kind {network.kind!r}")


def load_params(module: torch.nn.Module, params: dict) -> dict[str, torch.nn.Parameter]:
    """Copy the case's tensors into the module; the case's names are the module's names."""
    named = dict(module.named_parameters())
    with torch.no_grad():
        for name, value in params.items():
            named[name].copy_(torch.as_tensor(value, dtype=DTYPE))
    if set(named) != set(params):
        raise ValueError(f"parameter names differ: module {sorted(named)}, case {sorted(params)}")
    return named


def _tensor(array: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(array, dtype=torch.int64 if array.dtype.kind == "i" else DTYPE)


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy().astype(np.float64)


def make_optimizer(train, params: list) -> torch.optim.Optimizer:
    if train.optimizer == "sgd":
        return torch.optim.SGD(params, lr=train.lr, momentum=train.momentum, weight_decay=train.weight_decay)
    return torch.optim.Adam(params, lr=train.lr, betas=train.betas, eps=train.eps, weight_decay=train.weight_decay)


def trace(case) -> Trace:
    """Forward, gradients and training of `case` by torch autograd in float64."""
    module = build_module(case.network)
    named = load_params(module, case.params)
    inputs = _tensor(case.inputs).requires_grad_(True)
    targets = _tensor(case.targets)
    h0 = None if case.h0 is None else _tensor(case.h0).requires_grad_(True)

    start = time.perf_counter()
    record: dict[str, torch.Tensor] = {}
    outputs = module(inputs, h0, record)
    loss = loss_value(case.loss, outputs, targets)
    forward_s = time.perf_counter() - start
    start = time.perf_counter()
    loss.backward()
    backward_s = time.perf_counter() - start

    result = Trace(
        outputs=_numpy(outputs),
        loss=float(loss.detach()),
        intermediates={k: _numpy(v) for k, v in record.items()},
        grads={k: _numpy(p.grad) for k, p in named.items()},
        input_grads={"inputs": _numpy(inputs.grad)},
        timings={"forward": forward_s, "backward": backward_s},
    )
    if h0 is not None:
        result.input_grads["h0"] = _numpy(h0.grad)
    if case.train is not None:
        start = time.perf_counter()
        trainable = [p for name, p in named.items() if name not in case.train.frozen]
        optimizer = make_optimizer(case.train, trainable)
        data = inputs.detach()
        start_h = None if h0 is None else h0.detach()
        for _ in range(case.train.steps):
            optimizer.zero_grad()
            loss_value(case.loss, module(data, start_h), targets).backward()
            optimizer.step()
        with torch.no_grad():
            result.loss_after = float(loss_value(case.loss, module(data, start_h), targets))
        result.params_after = {k: _numpy(p) for k, p in named.items()}
        result.timings["train"] = time.perf_counter() - start
    return result
