"""Activations and losses by name (the names of refbp.names) as torch.nn's own modules and functions.

Nothing here imports refbp.nn. The references (refbp.oracle.torch_modules, refbp.oracle.torch_reference,
refbp.oracle.torch_loss) and the benchmarks all take their activations and losses from here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from numpy.typing import NDArray

DTYPE = torch.float64


def activation_module(name: str) -> torch.nn.Module:
    makers: dict[str, Callable[[], torch.nn.Module]] = {
        "identity": torch.nn.Identity,
        "sigmoid": torch.nn.Sigmoid,
        "tanh": torch.nn.Tanh,
        "relu": torch.nn.ReLU,
        "leaky_relu": lambda: torch.nn.LeakyReLU(0.01),
        "elu": lambda: torch.nn.ELU(alpha=1.0),
        "softplus": torch.nn.Softplus,
        "softmax": lambda: torch.nn.Softmax(dim=-1),
    }
    return makers[name]()


# torch.nn.BCELoss clamps each log at -100 (its documentation, "BCELoss").
BCE_LOG_FLOOR = -100.0


def loss_value(name: str, outputs: torch.Tensor, targets: torch.Tensor, bce: str = "value") -> torch.Tensor:
    """The case's loss with the functions behind torch.nn's loss modules (MSELoss, BCELoss,
    CrossEntropyLoss; leading axes flattened into examples). `bce`: "value" differentiates
    BCELoss's clamped value, "torch" is BCELoss itself, with its own backward (the two differ
    only where y (1 - y) < 1e-12: refbp.oracle.conventions)."""
    if name == "half_sse":
        return 0.5 * F.mse_loss(outputs, targets, reduction="sum")
    if name == "sse":
        return F.mse_loss(outputs, targets, reduction="sum")
    if name == "mse":
        return F.mse_loss(outputs, targets)
    if name == "bce" and bce == "torch":
        return F.binary_cross_entropy(outputs, targets)
    if name == "bce":
        # BCELoss's value, -mean(t max(log y, -100) + (1 - t) max(log(1 - y), -100)), written out so
        # that autograd differentiates that value: BCELoss's own backward floors y (1 - y) at 1e-12,
        # which is not the derivative of its value at a saturated output (y or 1 - y below 1e-12).
        log_y = _clamped_log(outputs)
        log_1my = _clamped_log(1.0 - outputs)
        return -torch.mean(targets * log_y + (1.0 - targets) * log_1my)
    if name == "cross_entropy":
        if outputs.dim() == 2:  # already examples x classes (no view op in the autograd graph)
            return F.cross_entropy(outputs, targets)
        classes = outputs.shape[-1]
        flat = targets.reshape(-1) if targets.dtype == torch.int64 else targets.reshape(-1, classes)
        return F.cross_entropy(outputs.reshape(-1, classes), flat)
    raise ValueError(f"unknown loss {name!r}")


def _clamped_log(values: torch.Tensor) -> torch.Tensor:
    """max(log v, -100), with gradient 0 where clamped, also at v = 0 exactly: clamping log(0) =
    -inf would send 0 x inf = NaN back (an output rounded to exactly 1), which no entry can be
    judged against; the log is taken of 1 there instead, and the branch not taken sends 0."""
    inside = values > 0
    logs = torch.log(torch.where(inside, values, torch.ones_like(values)))
    return torch.where(inside, torch.clamp(logs, min=BCE_LOG_FLOOR), torch.full_like(values, BCE_LOG_FLOOR))


def case_tensor(array: NDArray[Any], dtype: torch.dtype = DTYPE) -> torch.Tensor:
    """A case's array as a torch tensor: class indices as int64, every other number in `dtype`
    (float64; a low-precision reference rounds them to its dtype: refbp.oracle.same_precision)."""
    if array.dtype.kind == "i":
        return torch.as_tensor(array, dtype=torch.int64)
    return torch.as_tensor(array, dtype=torch.float64).to(dtype)
