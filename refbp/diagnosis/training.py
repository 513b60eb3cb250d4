"""The case's training re-derived in plain float64 numpy (torch.optim's SGD and Adam), with a
classic update bug switched on or off, over any re-derived gradient."""

from __future__ import annotations

import numpy as np

from ..trace import Trace
from . import mlp, rnn
from .variant import CORRECT, Variant


def derive(case, params=None, variant: Variant = CORRECT) -> Trace:
    """The re-derived trace of `case` (MLP or RNN) with `variant`'s bug."""
    module = mlp if case.network.kind == "mlp" else rnn
    return module.derive(case, params, variant)


def train(case, variant: Variant = CORRECT) -> tuple[dict, float | None]:
    """(parameters after all `train.steps`, the loss there), as torch.optim would update them."""
    config = case.train
    params = {k: np.asarray(v, dtype=np.float64) for k, v in case.params.items()}
    state: dict = {}
    for step in range(1, config.steps + 1):
        if variant.training == "eager-update":
            params = mlp.eager_sgd_step(case, params, variant)
            continue
        grads = derive(case, params, variant).grads
        for name in params:
            if name in config.frozen:
                continue
            g = grads[name] + _DECAY.get(variant.training, 1.0) * config.weight_decay * params[name]
            if config.optimizer == "sgd":
                params[name] = params[name] - config.lr * _momentum(state, name, g, config.momentum, variant)
            else:
                params[name] = params[name] - _adam(state, name, g, step, config, variant)
    return params, derive(case, params, variant).loss


# Weight decay applied twice (in the gradient and again in the step) or forgotten.
_DECAY = {"decay-twice": 2.0, "no-decay": 0.0}


def _momentum(state: dict, name: str, g, momentum: float, variant: Variant):
    if momentum == 0.0:
        return g
    buffer = state.get(name)
    if variant.training == "dampened-from-zero":  # v starts at 0: v = mu v + (1 - mu) g from the first step
        buffer = (1.0 - momentum) * g if buffer is None else momentum * buffer + (1.0 - momentum) * g
    elif buffer is None:
        buffer = g
    elif variant.training == "dampened-momentum":
        buffer = momentum * buffer + (1.0 - momentum) * g
    else:
        buffer = momentum * buffer + g
    state[name] = buffer
    return buffer


def _adam(state: dict, name: str, g, step: int, config, variant: Variant):
    beta1, beta2 = config.betas
    m, v = state.get(name, (np.zeros_like(g), np.zeros_like(g)))
    m = beta1 * m + (1.0 - beta1) * g
    v = beta2 * v + (1.0 - beta2) * g * g
    state[name] = (m, v)
    if variant.training == "adam-uncorrected":
        return config.lr * m / (np.sqrt(v) + config.eps)
    if variant.training == "adam-no-power":  # 1 - beta where 1 - beta^t belongs: right at t = 1 only
        return (config.lr / (1.0 - beta1)) * m / (np.sqrt(v) / np.sqrt(1.0 - beta2) + config.eps)
    correction1, correction2 = 1.0 - beta1**step, 1.0 - beta2**step
    return (config.lr / correction1) * m / (np.sqrt(v) / np.sqrt(correction2) + config.eps)
