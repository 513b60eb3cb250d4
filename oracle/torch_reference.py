"""The autograd reference: the case rebuilt from `torch.nn` modules and `torch.optim`, in float64.

Nothing here imports refbp.nn. The network comes from refbp.oracle.torch_modules (each layer a
`torch.nn.Linear` plus the activation's own `torch.nn` module, or `torch.nn.RNN`), the loss
is torch.nn's (refbp.oracle.torch_functions), the gradients come from autograd and the update
from `torch.optim`'s own update functions (refbp.oracle.torch_optim), so the update rule is
checked, not only the gradient.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from refbp.trace import Trace

from .conventions import Convention, output_net
from .torch_functions import DTYPE, case_tensor, loss_value
from .torch_modules import build_module, load_params
from .torch_optim import SGD, Adam

if TYPE_CHECKING:
    from refbp.cases.model import Case, Train


def _numpy(tensor: torch.Tensor | None) -> np.ndarray:
    if tensor is None:  # a tensor without a gradient: it took no part in the loss
        raise ValueError("no gradient: the tensor took no part in the loss")
    # A copy (astype copies; a float64 tensor's .numpy() would share its memory, and training
    # goes on accumulating into the gradients of frozen parameters). numpy has no bfloat16.
    return tensor.detach().cpu().to(torch.float64).numpy().astype(np.float64)


def make_optimizer(train: Train, params: Iterable[torch.Tensor]) -> SGD | Adam:
    if train.optimizer == "sgd":
        return SGD(params, lr=train.lr, momentum=train.momentum, weight_decay=train.weight_decay)
    return Adam(params, lr=train.lr, betas=train.betas, eps=train.eps, weight_decay=train.weight_decay)


def _loss(
    case: Case, outputs: torch.Tensor, record: dict[str, torch.Tensor], targets: torch.Tensor, convention: Convention
) -> torch.Tensor:
    """The case's loss; bce "logits": BCEWithLogitsLoss on the sigmoid output layer's net."""
    if case.loss == "bce" and convention.bce == "logits":
        return F.binary_cross_entropy_with_logits(record[output_net(case.network)], targets)
    return loss_value(case.loss, outputs, targets, convention.bce)


def trace(case: Case, convention: Convention = Convention(), dtype: torch.dtype = DTYPE) -> Trace:
    """Forward, gradients and training of `case` by torch autograd in float64, with the choices of
    `convention` where correct implementations may differ (default: relu'(0) = 0 as torch, and the
    derivative of BCELoss's clamped value; refbp.oracle.conventions). `dtype`: the same computation in
    another dtype, every number of the case rounded to it (what torch itself achieves at that
    precision: refbp.oracle.same_precision); the trace's arrays are float64 either way."""
    module = build_module(case.network, dtype=dtype, kink_slope=convention.kink_slope)
    named = load_params(module, case.params)
    inputs = case_tensor(case.inputs, dtype).requires_grad_(True)
    targets = case_tensor(case.targets, dtype)
    h0 = None if case.h0 is None else case_tensor(case.h0, dtype).requires_grad_(True)

    start = time.perf_counter()
    record: dict[str, torch.Tensor] = {}
    outputs = module(inputs, h0, record)
    loss = _loss(case, outputs, record, targets, convention)
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
            step_record: dict[str, torch.Tensor] = {}
            _loss(case, module(data, start_h, step_record), step_record, targets, convention).backward()
            optimizer.step()
        with torch.no_grad():
            result.loss_after = float(loss_value(case.loss, module(data, start_h), targets))
        result.params_after = {k: _numpy(p) for k, p in named.items()}
        result.timings["train"] = time.perf_counter() - start
    return result
