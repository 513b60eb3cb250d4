"""Where bce's outputs saturate on a sigmoid output layer, the interval every answer may span when
each output takes its own legitimate way (docs/formats.md 4.2; the choices: refbp.oracle.conventions).
Nothing here imports refbp.nn."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from .conventions import BCE_BACKWARD_FLOOR, output_net
from .torch_functions import case_tensor
from .torch_modules import build_module, load_params

if TYPE_CHECKING:
    from refbp.cases.model import Case

# {quantity: {name: (low, high)}}
Bounds = dict[str, dict[str, tuple[Any, Any]]]


def saturated_bce_bounds(case: Case, kink_slope: str = "left") -> Bounds:
    """Per answer, the interval a correct implementation may reach through a sigmoid output layer
    with bce where outputs are near or at 0 or 1: {quantity: {name: (low, high)}} for "loss",
    "grads" and "input_grads".

    There each output's dL/dnet is computed in one of several legitimate ways (BCELoss's
    backward, the clamped value's derivative, with logits, the sigmoid's slope taken from the
    net or from the rounded output) and its output may round an ulp apart. Each output's
    candidates span an interval [lo_i, hi_i]; the outputs choose independently, and every
    gradient is linear in the outputs' dL/dnet: g = g(mid) + sum_i J_i (delta_i - mid_i), so its
    entry lies within sum_i |J_i| (hi_i - lo_i) / 2 of g(mid). The loss is a sum over outputs,
    each term within its own interval. `kink_slope`: the slope taken at relu-family units exactly
    at 0 on the way back (Convention)."""
    module = build_module(case.network, kink_slope=kink_slope)
    named = load_params(module, case.params)
    inputs = case_tensor(case.inputs).requires_grad_(True)
    targets = case_tensor(case.targets)
    h0 = None if case.h0 is None else case_tensor(case.h0).requires_grad_(True)
    record: dict[str, torch.Tensor] = {}
    module(inputs, h0, record)
    net = record[output_net(case.network)]
    with torch.no_grad():
        low, high = _output_slopes(net.detach(), targets)
        scale = 1.0 / net.numel()
        low, high = low * scale, high * scale
    leaves = {**{("grads", k): p for k, p in named.items()}, ("input_grads", "inputs"): inputs}
    if h0 is not None:
        leaves[("input_grads", "h0")] = h0
    keys, tensors = list(leaves), list(leaves.values())
    mid = (low + high) / 2.0
    center = torch.autograd.grad(net, tensors, grad_outputs=mid, retain_graph=True, allow_unused=True)
    spread = torch.nonzero((high - low).reshape(-1) > 0).reshape(-1)
    radius = [torch.zeros_like(t) for t in tensors]
    if spread.numel():
        basis = torch.zeros((spread.numel(), net.numel()), dtype=net.dtype)
        basis[torch.arange(spread.numel()), spread] = (high - low).reshape(-1)[spread] / 2.0
        jacobians = torch.autograd.grad(
            net, tensors, grad_outputs=basis.reshape((-1,) + net.shape), is_grads_batched=True, allow_unused=True
        )
        radius = [r if j is None else j.abs().sum(dim=0) for r, j in zip(radius, jacobians)]
    bounds: Bounds = {"grads": {}, "input_grads": {}}
    for (quantity, name), c, r in zip(keys, center, radius):
        middle = np.zeros(tuple(leaves[(quantity, name)].shape)) if c is None else c.detach().numpy()
        reach = r.detach().numpy()
        bounds[quantity][name] = (middle - reach, middle + reach)
    with torch.no_grad():
        bounds["loss"] = {"loss": _loss_interval(torch.sigmoid(net), targets)}
    return bounds


def _output_slopes(net: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per output, the interval of dL/dnet (per output, before the mean) over the legitimate ways."""
    y = torch.sigmoid(net)
    candidates = [torch.sigmoid(net) - targets]  # with logits: exact
    for moved in (y, _step(y, 1), _step(y, -1)):
        for slope in (moved * (1 - moved), y * (1 - y), torch.sigmoid(net) * torch.sigmoid(-net)):
            floored = (moved - targets) / torch.clamp(moved * (1 - moved), min=BCE_BACKWARD_FLOOR)
            clamped = torch.where(moved > np.exp(-100.0), -targets / moved, torch.zeros_like(moved)) + torch.where(
                1 - moved > np.exp(-100.0), (1 - targets) / (1 - moved), torch.zeros_like(moved)
            )
            candidates += [floored * slope, torch.nan_to_num(clamped * slope, nan=0.0, posinf=0.0, neginf=0.0)]
    stacked = torch.stack(candidates)
    return stacked.min(dim=0).values, stacked.max(dim=0).values


def _loss_interval(y: torch.Tensor, targets: torch.Tensor) -> tuple[float, float]:
    terms = []
    for moved in (y, _step(y, 1), _step(y, -1)):
        log_y = torch.clamp(torch.log(moved), min=-100.0)
        log_not = torch.clamp(torch.log(1 - moved), min=-100.0)
        terms.append(-(targets * log_y + (1 - targets) * log_not))
    stacked = torch.stack(terms)
    n = y.numel()
    return float(stacked.min(dim=0).values.sum()) / n, float(stacked.max(dim=0).values.sum()) / n


def _step(y: torch.Tensor, ulps: int) -> torch.Tensor:
    """y moved one representable step up or down, within [0, 1]."""
    return torch.nextafter(y, torch.full_like(y, 2.0 if ulps > 0 else -1.0)).clamp(0.0, 1.0)
