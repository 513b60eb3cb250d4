"""A correct MLP backprop in plain numpy, written independently of refbp, for `refbp check`.

    refbp check --impl examples/numpy_mlp.py:factory

It follows refbp's adapter protocol (docs/formats.md): `factory(case)` gets a case's explicit
document (arrays as numpy arrays of the case's dtype) and returns an object with forward,
loss, gradients and train (and the optional intermediates and error_signals), or None for what it
does not support (every RNN case: it is an MLP-only implementation). Unlike refbp it keeps each
layer's pre-activation and takes every activation's slope as a function of it, and applies softmax's
Jacobian explicitly per example.
"""

from __future__ import annotations

import numpy as np


def _sigmoid(z):
    return np.exp(-np.logaddexp(0.0, -z))


SLOPES = {  # f'(z) of each activation, from the pre-activation z
    "identity": lambda z: np.ones_like(z),
    "sigmoid": lambda z: _sigmoid(z) * _sigmoid(-z),
    "tanh": lambda z: 1.0 / np.cosh(z) ** 2,
    "relu": lambda z: (z > 0).astype(z.dtype),
    "leaky_relu": lambda z: np.where(z > 0, 1.0, 0.01).astype(z.dtype),
    "elu": lambda z: np.where(z > 0, 1.0, np.exp(np.minimum(z, 0.0))).astype(z.dtype),
    "softplus": _sigmoid,
}
FUNCTIONS = {
    "identity": lambda z: z,
    "sigmoid": _sigmoid,
    "tanh": np.tanh,
    "relu": lambda z: np.where(z > 0, z, 0.0).astype(z.dtype),
    "leaky_relu": lambda z: np.where(z > 0, z, 0.01 * z),
    "elu": lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0.0))),
    "softplus": lambda z: np.logaddexp(0.0, z),
    "softmax": lambda z: np.exp(z - np.logaddexp.reduce(z, axis=-1, keepdims=True)),
}


class NumpyMLP:
    slopes = SLOPES

    def __init__(self, case: dict):
        self.activations = case["network"]["activations"]
        self.bias = case["network"].get("bias", True)
        self.loss_name = case["loss"]
        self.train_spec = case.get("train") or {}

    # forward -------------------------------------------------------------------------
    def _layers(self, params, x):
        zs, xs = [], [x]
        for i, name in enumerate(self.activations):
            z = xs[-1] @ params[f"layers.{i}.weight"].T
            if self.bias:
                z = z + params[f"layers.{i}.bias"]
            zs.append(z)
            xs.append(FUNCTIONS[name](z))
        return zs, xs

    def forward(self, params, inputs):
        return self._layers(params, inputs)[1][-1]

    def loss(self, params, inputs, targets):
        return float(self._loss_and_slope(self.forward(params, inputs), targets)[0])

    def loss_batch(self, params_list, inputs, targets):
        """Optional (docs/formats.md section 8): the loss at many parameter sets in one call, for
        the finite differences of this implementation's own forward: every layer's products for
        all sets at once ([S, B, n] arrays), then each set's loss."""
        x = inputs
        for i, name in enumerate(self.activations):
            weight = np.stack([p[f"layers.{i}.weight"] for p in params_list])
            z = np.einsum("bi,soi->sbo" if x.ndim == 2 else "sbi,soi->sbo", x, weight)
            if self.bias:
                z = z + np.stack([p[f"layers.{i}.bias"] for p in params_list])[:, None, :]
            x = FUNCTIONS[name](z)
        return [float(self._loss_and_slope(y, targets)[0]) for y in x]

    def _loss_and_slope(self, y, t):
        """The loss and dL/dy."""
        if self.loss_name == "half_sse":
            return 0.5 * np.sum((y - t) ** 2), y - t
        if self.loss_name == "sse":
            return np.sum((y - t) ** 2), 2.0 * (y - t)
        if self.loss_name == "mse":
            return np.mean((y - t) ** 2), 2.0 * (y - t) / y.size
        if self.loss_name == "bce":
            log_y, log_not_y = np.maximum(np.log(y), -100.0), np.maximum(np.log(1.0 - y), -100.0)
            loss = -np.mean(t * log_y + (1.0 - t) * log_not_y)
            return loss, (y - t) / np.maximum(y * (1.0 - y), 1e-12) / y.size
        # cross_entropy on logits: targets are class indices or probabilities
        p = t if t.ndim == y.ndim else np.eye(y.shape[-1], dtype=y.dtype)[t]
        log_softmax = y - np.logaddexp.reduce(y, axis=-1, keepdims=True)
        examples = y.size // y.shape[-1]
        return -np.sum(p * log_softmax) / examples, (np.exp(log_softmax) * p.sum(-1, keepdims=True) - p) / examples

    # backward ------------------------------------------------------------------------
    def gradients(self, params, inputs, targets):
        return self._backward(params, inputs, targets)[0]

    def _backward(self, params, inputs, targets):
        """(gradients, error signals): dL/dout and dL/dnet of every layer on the way down."""
        zs, xs = self._layers(params, inputs)
        upstream = self._loss_and_slope(xs[-1], targets)[1]
        grads, signals = {}, {}
        for i in range(len(self.activations) - 1, -1, -1):
            name = self.activations[i]
            if name == "softmax":
                s = xs[i + 1]
                jacobian = np.einsum("bi,ij->bij", s, np.eye(s.shape[-1])) - np.einsum("bi,bj->bij", s, s)
                delta = np.einsum("bij,bi->bj", jacobian, upstream)
            else:
                delta = upstream * self.slopes[name](zs[i])
            signals[f"layers.{i}.grad_out"], signals[f"layers.{i}.grad_net"] = upstream, delta
            grads[f"layers.{i}.weight"] = np.einsum("bo,bi->oi", delta, xs[i])
            if self.bias:
                grads[f"layers.{i}.bias"] = delta.sum(axis=0)
            upstream = delta @ params[f"layers.{i}.weight"]
        return grads, signals

    # optional: what `refbp check` uses to say where a wrong gradient starts ----------------
    def intermediates(self, params, inputs):
        zs, xs = self._layers(params, inputs)
        return {
            **{f"layers.{i}.net": z for i, z in enumerate(zs)},
            **{f"layers.{i}.out": x for i, x in enumerate(xs[1:])},
        }

    def error_signals(self, params, inputs, targets):
        return self._backward(params, inputs, targets)[1]

    # training (torch.optim's SGD and Adam) ---------------------------------------------
    def train(self, params, inputs, targets):
        spec = self.train_spec
        frozen = set(spec.get("frozen", []))
        lr, decay = spec["lr"], spec.get("weight_decay", 0.0)
        momentum = spec.get("momentum", 0.0)
        beta1, beta2 = spec.get("betas", (0.9, 0.999))
        eps = spec.get("eps", 1e-8)
        state = {}
        params = {k: v.copy() for k, v in params.items()}
        for step in range(1, spec.get("steps", 1) + 1):
            grads = self.gradients(params, inputs, targets)
            for name in params:
                if name in frozen:
                    continue
                g = grads[name] + decay * params[name]
                if spec["optimizer"] == "sgd":
                    if momentum:
                        g = state[name] = momentum * state[name] + g if name in state else g
                    params[name] = params[name] - lr * g
                else:
                    m, v = state.get(name, (0.0, 0.0))
                    m, v = beta1 * m + (1 - beta1) * g, beta2 * v + (1 - beta2) * g * g
                    state[name] = (m, v)
                    denominator = np.sqrt(v) / np.sqrt(1 - beta2**step) + eps
                    params[name] = params[name] - lr / (1 - beta1**step) * m / denominator
        return params


def factory(case: dict):
    if case["network"]["kind"] != "mlp":
        return None  # MLPs only: refbp lists the RNN cases as not supported
    return NumpyMLP(case)


factory.kinds = ("mlp",)  # what `refbp fuzz --impl` draws for it (docs/formats.md section 8)
