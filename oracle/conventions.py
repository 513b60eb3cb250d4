"""Where correct implementations may legitimately differ, the torch reference under each choice.

docs/formats.md, "Conventions", names the points: the relu family at a unit whose net is
exactly 0 (relu'(0) = 0 as torch takes it, or 1, the right derivative; any value between is a
subgradient), and bce at an output where y (1 - y) < 1e-12 (torch's BCELoss backward divides
by max(y (1 - y), 1e-12); the derivative of BCELoss's clamped value is -t/y + (1 - t)/(1 - y),
0 where a log is clamped at -100). A `Convention` picks one choice at each point;
refbp.oracle.torch_reference.trace computes the reference under it. Nothing here imports refbp.nn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F

if TYPE_CHECKING:
    from refbp.cases.model import MLPNetwork, RNNNetwork

# torch's BCELoss backward floors y (1 - y) at this (aten's binary_cross_entropy_backward, EPSILON).
BCE_BACKWARD_FLOOR = 1e-12
KINKED_WITH_CHOICE = ("relu", "leaky_relu")  # elu (alpha 1) has one derivative at 0: no choice there
# A sigmoid, tanh or elu unit whose output lies within this of its bound is saturated: 1 - y is
# known there to an ulp of 1 only, so its slope from the rounded output (torch's backward) and its
# slope from the net differ by up to 1e-16 / SATURATED relatively, beyond the tolerance below it.
SATURATED = 1e-6


@dataclass(frozen=True)
class Convention:
    """`kink_slope`: "left" (relu'(0) = 0, leaky_relu'(0) = 0.01: torch's) or "right" (1);
    `bce`: "value" (the derivative of BCELoss's clamped value), "torch" (BCELoss's backward) or,
    on a sigmoid output layer, "logits" (BCEWithLogitsLoss on its net: the derivative of the
    loss before any output is rounded to 0 or 1 or any log clamped)."""

    kink_slope: str = "left"
    bce: str = "value"


TORCH = Convention("left", "torch")
# Below this distance of an output to 0 or 1, an ulp of rounding moves bce beyond the torch
# tolerance (1.1e-16 / (1 - y) against 1e-7, with room): saturated_bce_bounds applies.
ILL_CONDITIONED = 1e-7  # torch's own choices: what `--conventions torch` admits


def labels(convention: Convention, kinked: tuple[str, ...], bce: bool) -> list[str]:
    """The choices of `convention` in words, for the activations at their kink and bce where it saturates."""
    words = []
    for name in kinked:
        left = "0" if name == "relu" else "0.01"
        words.append(f"{name}'(0) = {left if convention.kink_slope == 'left' else '1'}")
    if bce:
        words.append(
            {
                "torch": "bce: torch backward",
                "logits": "bce: with logits (sigmoid and bce fused)",
                "value": "bce: derivative of the clamped value",
            }[convention.bce]
        )
    return words


class _RightSlopeAtZero(torch.autograd.Function):
    """relu or leaky_relu with slope 1 at net = 0 exactly (the forward is torch's own)."""

    @staticmethod
    def forward(ctx: Any, net: torch.Tensor, negative_slope: float) -> torch.Tensor:
        ctx.save_for_backward(net)
        ctx.negative_slope = negative_slope
        return F.relu(net) if negative_slope == 0.0 else F.leaky_relu(net, negative_slope)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (net,) = ctx.saved_tensors
        slope = torch.where(net >= 0, torch.ones_like(net), torch.full_like(net, ctx.negative_slope))
        return grad * slope, None


class RightSlopeActivation(torch.nn.Module):
    def __init__(self, name: str) -> None:
        super().__init__()
        self.negative_slope = 0.0 if name == "relu" else 0.01

    def forward(self, net: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = _RightSlopeAtZero.apply(net, self.negative_slope)  # type: ignore[no-untyped-call]
        return out


def bce_ill_conditioned(loss: str, outputs: Any) -> bool:
    """bce with an output so near 0 or 1 that its rounding moves the loss beyond the tolerance."""
    if loss != "bce" or outputs is None:
        return False
    y = np.asarray(outputs, dtype=np.float64)
    return bool(np.any(np.minimum(y, 1.0 - y) < ILL_CONDITIONED))


def kinked_at_zero(network: MLPNetwork | RNNNetwork, intermediates: dict[str, Any]) -> tuple[str, ...]:
    """The activations with a choice at 0 (relu, leaky_relu) of which some unit's net is exactly 0."""
    found: list[str] = []
    for name, activation in kinked_layers(network):
        net = intermediates.get(name)
        at_kink = activation in KINKED_WITH_CHOICE and net is not None and np.any(np.asarray(net) == 0.0)
        if at_kink and activation not in found:
            found.append(activation)
    return tuple(found)


def saturation_distance(activation: str, net: Any) -> np.ndarray:
    """How far each unit's output lies from the bound it saturates at (inf where it has none)."""
    x = np.asarray(net, dtype=np.float64)
    with np.errstate(over="ignore"):
        if activation == "sigmoid":
            return np.asarray(1.0 / (1.0 + np.exp(np.abs(x))))  # min(y, 1 - y)
        if activation == "tanh":
            return np.asarray(2.0 / (1.0 + np.exp(2.0 * np.abs(x))))  # 1 - |y|
        if activation == "elu":
            return np.where(x > 0, np.inf, np.exp(np.minimum(x, 0.0)))  # y + 1
    return np.full(x.shape, np.inf)


def saturated_units(network: MLPNetwork | RNNNetwork, intermediates: dict[str, Any]) -> tuple[str, ...]:
    """The activations (sigmoid, tanh, elu) of which some unit is saturated (within SATURATED of its bound)."""
    found: list[str] = []
    for name, activation in kinked_layers(network):
        net = intermediates.get(name)
        if net is not None and activation not in found and np.any(saturation_distance(activation, net) < SATURATED):
            found.append(activation)
    return tuple(found)


def bce_saturated(loss: str, outputs: Any) -> bool:
    """bce with an output where torch's backward and the clamped value's derivative differ."""
    if loss != "bce" or outputs is None:
        return False
    y = np.asarray(outputs, dtype=np.float64)
    return bool(np.any(y * (1.0 - y) < BCE_BACKWARD_FLOOR))


def output_net(network: MLPNetwork | RNNNetwork) -> str:
    """The recorded name of the output layer's net."""
    return f"layers.{len(network.activations) - 1}.net" if network.kind == "mlp" else "readout.net"


def output_activation(network: MLPNetwork | RNNNetwork) -> str:
    return network.activations[-1] if network.kind == "mlp" else network.output_activation


def kinked_layers(network: MLPNetwork | RNNNetwork) -> list[tuple[str, str]]:
    if network.kind == "mlp":
        return [(f"layers.{i}.net", a) for i, a in enumerate(network.activations)]
    return [("rnn.net", network.nonlinearity), ("readout.net", network.output_activation)]
