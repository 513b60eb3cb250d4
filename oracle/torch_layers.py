"""One layer's forward and backward by torch autograd in float64: the reference of `refbp check
--layer` (refbp.layer). Each function takes its named inputs as numpy arrays (weights in torch's
(out, in) layout, or (in, out) as CS231n writes them) and an upstream gradient, and returns the
output and the gradient of <output, upstream> with respect to every floating input.

Activations and losses are torch.nn's own (refbp.oracle.torch_functions); the RNN step is
tanh(x Wx + h Wh + b) as CS231n's rnn_step_forward (torch.nn.RNN's cell, its weights transposed).
Nothing here imports refbp.nn.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray

from .torch_functions import DTYPE, activation_module, loss_value

ACTIVATIONS = ("identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "softmax")
LOSSES = ("half_sse", "sse", "mse", "bce", "cross_entropy", "softmax_cross_entropy")


def layer_reference(
    function: str, inputs: dict[str, Any], upstream: Any, layout: str = "out_in"
) -> tuple[NDArray[np.float64], dict[str, NDArray[Any]]]:
    """(output as float64 numpy, {input name: gradient}) of `function` at `inputs` (float64 arrays;
    class targets int64) for the upstream gradient `upstream` (a loss: its scalar weight, 1.0)."""
    tensors = {
        name: torch.tensor(
            np.asarray(value),
            dtype=torch.int64 if np.asarray(value).dtype.kind == "i" else DTYPE,
            requires_grad=np.asarray(value).dtype.kind != "i",
        )
        for name, value in inputs.items()
    }
    out = _forward(function, tensors, layout)
    weight = torch.as_tensor(np.asarray(upstream, dtype=np.float64), dtype=DTYPE)
    floats = [name for name, t in tensors.items() if t.requires_grad]
    grads = torch.autograd.grad((out * weight).sum(), [tensors[n] for n in floats], allow_unused=True)
    return (
        out.detach().numpy().astype(np.float64),
        {name: (np.zeros(tensors[name].shape) if g is None else g.detach().numpy()) for name, g in zip(floats, grads)},
    )


def _forward(function: str, t: dict[str, torch.Tensor], layout: str) -> torch.Tensor:
    if function == "affine":
        w = t["w"] if layout == "out_in" else t["w"].T
        return F.linear(t["x"].reshape(t["x"].shape[0], -1), w, t["b"])
    if function in ACTIVATIONS:
        out: torch.Tensor = activation_module(function)(t["x"])
        return out
    if function == "softmax_cross_entropy":  # logits and class indices (or probabilities)
        return F.cross_entropy(t["x"], t["y"])
    if function in LOSSES:
        return loss_value(function, t["x"], t["y"])
    if function == "rnn_step":
        return _step(t["x"], t["h"], t["wx"], t["wh"], t["b"], layout)
    if function == "rnn":
        h = t["h0"]
        states: list[torch.Tensor] = []
        for step in range(t["x"].shape[1]):
            h = _step(t["x"][:, step], h, t["wx"], t["wh"], t["b"], layout)
            states.append(h)
        return torch.stack(states, dim=1)
    raise ValueError(f"unknown layer function {function!r}")


def _step(
    x: torch.Tensor, h: torch.Tensor, wx: torch.Tensor, wh: torch.Tensor, b: torch.Tensor, layout: str
) -> torch.Tensor:
    if layout == "out_in":
        return torch.tanh(x @ wx.T + h @ wh.T + b)
    return torch.tanh(x @ wx + h @ wh + b)
