"""torch.optim's own SGD and Adam updates, called the way its SGD and Adam classes call them.

The classes' methods (add_param_group, zero_grad, step) import torch._dynamo at their first
call: about a second per process, more than checking the whole shipped suite takes. The
functions that do the update, torch.optim.sgd.sgd and torch.optim.adam.adam, do not. Here
each class's state is kept as the class keeps it (SGD's momentum buffers; Adam's step
count and moments, created as Adam._init_group creates them) and the functions get the
classes' default options, so every number of the update is computed by torch.optim's own
code, not re-derived. tests/test_torch_optim.py compares both with the classes, bit for bit.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch.optim.adam import adam
from torch.optim.optimizer import _get_scalar_dtype
from torch.optim.sgd import sgd


class SGD:
    """torch.optim.SGD(params, lr, momentum, weight_decay) with its other options at their defaults."""

    def __init__(
        self, params: Iterable[torch.Tensor], lr: float, momentum: float = 0.0, weight_decay: float = 0.0
    ) -> None:
        self.params, self.lr, self.momentum, self.weight_decay = list(params), lr, momentum, weight_decay
        self.buffers: dict[int, torch.Tensor | None] = {}

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None  # set_to_none=True, torch.optim's default

    @torch.no_grad()
    def step(self) -> None:
        used = [i for i, p in enumerate(self.params) if p.grad is not None]
        params = [self.params[i] for i in used]
        buffers = [self.buffers.get(i) for i in used] if self.momentum != 0 else []
        sgd(
            params,
            [p.grad for p in params if p.grad is not None],  # every one (`used`)
            buffers,
            weight_decay=self.weight_decay,
            momentum=self.momentum,
            lr=self.lr,
            dampening=0.0,
            nesterov=False,
            maximize=False,
            has_sparse_grad=False,
            foreach=None,
            fused=None,
            grad_scale=None,
            found_inf=None,
        )
        if self.momentum != 0:
            self.buffers.update(zip(used, buffers))  # sgd() creates a buffer where it was None


class Adam:
    """torch.optim.Adam(params, lr, betas, eps, weight_decay) with its other options at their defaults."""

    def __init__(
        self,
        params: Iterable[torch.Tensor],
        lr: float,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        self.params, self.lr, self.betas, self.eps, self.weight_decay = (
            list(params),
            lr,
            tuple(betas),
            eps,
            weight_decay,
        )
        self.state: dict[int, dict[str, torch.Tensor]] = {}

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def _state(self, i: int, p: torch.Tensor) -> dict[str, torch.Tensor]:
        if i not in self.state:  # as Adam._init_group, neither capturable nor fused: the step on the CPU
            self.state[i] = {
                "step": torch.tensor(0.0, dtype=_get_scalar_dtype(), device="cpu"),
                "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
                "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format),
            }
        return self.state[i]

    @torch.no_grad()
    def step(self) -> None:
        used = [i for i, p in enumerate(self.params) if p.grad is not None]
        params = [self.params[i] for i in used]
        states = [self._state(i, self.params[i]) for i in used]
        beta1, beta2 = self.betas
        adam(
            params,
            [p.grad for p in params if p.grad is not None],  # every one (`used`)
            [s["exp_avg"] for s in states],
            [s["exp_avg_sq"] for s in states],
            [],
            [s["step"] for s in states],
            amsgrad=False,
            has_complex=any(torch.is_complex(p) for p in params),
            beta1=beta1,
            beta2=beta2,
            lr=self.lr,
            weight_decay=self.weight_decay,
            eps=self.eps,
            maximize=False,
            foreach=None,
            capturable=False,
            differentiable=False,
            fused=None,
            grad_scale=None,
            found_inf=None,
            decoupled_weight_decay=False,
        )
