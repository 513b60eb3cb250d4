"""SGD and Adam with torch.optim's semantics, one update of every unfrozen parameter per step.

The update takes the gradients of ALL parameters, computed before any parameter moves
(the seed: the hidden layer's update uses the original w5..w8).
"""

from __future__ import annotations


class SGD:
    """torch.optim.SGD (dampening 0, no Nesterov): g += wd*p; buf = m*buf + g (buf = g at first); p -= lr*buf."""

    def __init__(self, lr, momentum=0.0, weight_decay=0.0):
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay
        self.buffers = {}

    def step(self, xp, params: dict, grads: dict, names) -> dict:
        updated = dict(params)
        for name in names:
            g = grads[name]
            if self.weight_decay:
                g = g + self.weight_decay * params[name]
            if self.momentum:
                buf = self.buffers.get(name)
                g = g if buf is None else self.momentum * buf + g
                self.buffers[name] = g
            updated[name] = params[name] - self.lr * g
        return updated


class Adam:
    """torch.optim.Adam (no amsgrad): bias-corrected moments, eps added after the square root.

    A float16 or bfloat16 parameter is updated as torch's fused Adam updates it: the step computed
    in float32 (eps = 1e-8 is 0 in float16, and the square of a small gradient underflows there),
    the parameter and the moments rounded to their own dtype once. torch's unfused float16 Adam
    adds eps in float16 and divides 0 by 0 where a gradient entry is 0 (its NaN makes those
    training rows inconclusive: docs/precision.md)."""

    def __init__(self, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        self.lr, self.betas, self.eps, self.weight_decay = lr, betas, eps, weight_decay
        self.t = 0
        self.m, self.v = {}, {}

    def step(self, xp, params: dict, grads: dict, names) -> dict:
        self.t += 1
        beta1, beta2 = self.betas
        correction1 = 1.0 - beta1**self.t
        correction2_sqrt = (1.0 - beta2**self.t) ** 0.5
        updated = dict(params)
        for name in names:
            dtype = params[name].dtype
            wide = xp.float32 if xp.finfo(dtype).bits < 32 else dtype  # torch's fused Adam: float32 inside
            p, g = xp.astype(params[name], wide), xp.astype(grads[name], wide)
            if self.weight_decay:
                g = g + self.weight_decay * p
            m, v = (1.0 - beta1) * g, (1.0 - beta2) * g * g
            if name in self.m:
                m, v = beta1 * xp.astype(self.m[name], wide) + m, beta2 * xp.astype(self.v[name], wide) + v
            self.m[name], self.v[name] = xp.astype(m, dtype), xp.astype(v, dtype)  # kept in the parameter's dtype
            denominator = xp.sqrt(v) / correction2_sqrt + self.eps
            updated[name] = xp.astype(p - (self.lr / correction1) * (m / denominator), dtype)
        return updated


def make(train):
    if train.optimizer == "sgd":
        return SGD(train.lr, momentum=train.momentum, weight_decay=train.weight_decay)
    if train.optimizer == "adam":
        return Adam(train.lr, betas=train.betas, eps=train.eps, weight_decay=train.weight_decay)
    raise ValueError(f"unknown optimizer {train.optimizer!r}")
