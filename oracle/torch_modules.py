"""The torch reference networks, built from a case's network: the one builder of each.

An MLP is `torch.nn.Linear` layers, each followed by its activation's own `torch.nn` module;
an RNN is `torch.nn.RNN` itself with a `torch.nn.Linear` readout (refbp.oracle.torch_rnn). The
module's parameter names are the case's (`layers.0.weight`, `rnn.weight_ih`, ...), so the
case's parameters load by name. The reference (float64, CPU) and the benchmarks (float32,
CUDA too) build their torch networks here. Nothing here imports refbp.nn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

from .conventions import KINKED_WITH_CHOICE, RightSlopeActivation
from .torch_functions import DTYPE, activation_module
from .torch_rnn import RNNModule

if TYPE_CHECKING:
    from refbp.cases.model import MLPNetwork, RNNNetwork


class MLPModule(torch.nn.Module):
    def __init__(
        self, network: MLPNetwork, dtype: torch.dtype = DTYPE, device: torch.device | str | None = None
    ) -> None:
        super().__init__()
        self.layers = torch.nn.ModuleList(
            torch.nn.Linear(n_in, n_out, bias=network.bias, dtype=dtype, device=device)
            for n_in, n_out in zip(network.sizes[:-1], network.sizes[1:])
        )
        self.activations = torch.nn.ModuleList(activation_module(a) for a in network.activations)

    def forward(
        self,
        x: torch.Tensor,
        h0: torch.Tensor | None = None,
        record: dict[str, torch.Tensor] | None = None,
        params: dict[str, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """`record`: a dict that receives every layer's net and out. `params` ({name: tensor}):
        computed with these tensors in place of the module's own (a function of the parameters,
        as torch.autograd.gradcheck wants), through the same torch.nn.functional.linear."""
        for i, (layer, activation) in enumerate(zip(self.layers, self.activations)):
            if params is None:
                net = layer(x)
            else:
                net = F.linear(x, params[f"layers.{i}.weight"], params.get(f"layers.{i}.bias"))
            x = activation(net)
            if record is not None:
                record[f"layers.{i}.net"] = net
                record[f"layers.{i}.out"] = x
        return x


def build_module(
    network: MLPNetwork | RNNNetwork,
    dtype: torch.dtype = DTYPE,
    device: torch.device | str | None = None,
    kink_slope: str = "left",
) -> torch.nn.Module:
    """The torch network of a case's `network` (MLPNetwork or RNNNetwork), in `dtype` on `device`.
    `kink_slope` "right": relu'(0) = leaky_relu'(0) = 1 instead of torch's choice (refbp.oracle.conventions)."""
    if network.kind == "mlp":
        module = MLPModule(network, dtype, device)
        if kink_slope == "right":
            module.activations = torch.nn.ModuleList(
                RightSlopeActivation(a) if a in KINKED_WITH_CHOICE else m
                for a, m in zip(network.activations, module.activations)
            )
        return module
    if network.kind == "rnn":
        return RNNModule(network, dtype, device, right_slope=kink_slope == "right")
    raise ValueError(f"unknown network kind {network.kind!r}")


def load_params(module: torch.nn.Module, params: dict[str, Any]) -> dict[str, torch.nn.Parameter]:
    """Copy the case's tensors (numpy arrays or torch tensors) into the module, converted to its
    dtype and device; the case's names are the module's names."""
    named = dict(module.named_parameters())
    if set(named) != set(params):
        raise ValueError(f"parameter names differ: module {sorted(named)}, case {sorted(params)}")
    with torch.no_grad():
        for name, value in params.items():
            named[name].copy_(torch.as_tensor(value))
    return named
