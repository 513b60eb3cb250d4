"""numpy MLP of cached layer objects; torch's conventions, bce backward (y - t) / max(y (1 - y), 1e-12) / N."""

# refbp check --impl examples/corpus/bce_torch_backward.py:factory
#
# Convention: torch's, in every respect. BCELoss's forward is
# mean(-(t max(log y, -100) + (1 - t) max(log(1 - y), -100))) and its backward is torch's formula
# above, not the derivative of the clamped value: where y (1 - y) < 1e-12 the floor scales the
# gradient down, and where a log is clamped the gradient is still sent. The floor is torch's
# EPSILON, the float32 number 1e-12f = 9.999999960041972e-13, in float64 too.
# relu'(0) = leaky_relu'(0) = 0, as torch. Each layer is an object that keeps what its backward
# needs (Linear: its input; an activation: its input and OUTPUT, the slope being written in
# terms of the output where it can: sigmoid y (1 - y), tanh 1 - y^2, elu y + 1 below 0,
# softmax s * (g - <g, s>)); a loss object gives dL/dy, and the network runs the layers
# forward, then backward in reverse order. Computes in the dtype of the arrays it is handed
# (float32 for a float32 case).

from __future__ import annotations

import math

import numpy as np

# torch's floor of y (1 - y) in BCELoss's backward: the float32 constant 1e-12f, in float64 too.
TORCH_BCE_EPSILON = float(np.float32(1e-12))  # 9.999999960041972e-13


class Linear:
    def __init__(self, weight, bias):
        self.weight, self.bias = weight, bias

    def forward(self, x):
        self.x = x
        out = x @ self.weight.T
        return out if self.bias is None else out + self.bias

    def backward(self, grad):
        self.grad_weight = grad.T @ self.x
        self.grad_bias = None if self.bias is None else grad.sum(axis=0)
        return grad @ self.weight


class Activation:
    """An elementwise activation whose slope is a function of its input z and output y."""

    def __init__(self, name):
        self.name = name

    def forward(self, z):
        self.z = z
        one = z.dtype.type(1)
        if self.name == "identity":
            y = z.copy()
        elif self.name == "sigmoid":
            # 1 / (1 + e^-z) for z >= 0, e^z / (1 + e^z) below: no overflow either side
            e = np.exp(-np.abs(z))
            y = np.where(z >= 0, one / (one + e), e / (one + e))
        elif self.name == "tanh":
            y = np.tanh(z)
        elif self.name == "relu":
            y = np.maximum(z, 0).astype(z.dtype)
        elif self.name == "leaky_relu":
            y = np.where(z > 0, z, z * z.dtype.type(0.01))
        elif self.name == "elu":
            y = np.where(z > 0, z, np.expm1(np.minimum(z, 0)))
        elif self.name == "softplus":
            y = np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))
        else:
            raise ValueError(f"unknown activation {self.name!r}")
        self.y = y
        return y

    def backward(self, grad):
        z, y = self.z, self.y
        if self.name == "identity":
            slope = np.ones_like(z)
        elif self.name == "sigmoid":
            slope = y * (1 - y)
        elif self.name == "tanh":
            slope = 1 - y * y
        elif self.name == "relu":
            slope = (z > 0).astype(z.dtype)  # 0 at 0, as torch
        elif self.name == "leaky_relu":
            slope = np.where(z > 0, 1.0, 0.01).astype(z.dtype)  # 0.01 at 0, as torch
        elif self.name == "elu":
            slope = np.where(z > 0, 1, y + 1).astype(z.dtype)  # e^z = elu(z) + 1 below 0
        else:  # softplus' = sigmoid
            e = np.exp(-np.abs(z))
            slope = np.where(z >= 0, 1 / (1 + e), e / (1 + e))
        return grad * slope


class Softmax:
    def forward(self, z):
        self.z = z
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        self.y = e / e.sum(axis=-1, keepdims=True)
        return self.y

    def backward(self, grad):
        s = self.y
        return s * (grad - (grad * s).sum(axis=-1, keepdims=True))


class Loss:
    """A loss on outputs y: value(y, t) and dL/dy (the last computed)."""

    def __init__(self, name):
        self.name = name

    def value(self, y, t):
        n = y.size
        if self.name == "half_sse":
            return 0.5 * np.sum((y - t) ** 2)
        if self.name == "sse":
            return np.sum((y - t) ** 2)
        if self.name == "mse":
            return np.sum((y - t) ** 2) / n
        if self.name == "bce":
            with np.errstate(divide="ignore"):
                log_y = np.maximum(np.log(y), -100)
                log_1my = np.maximum(np.log(1 - y), -100)
            return -np.sum(t * log_y + (1 - t) * log_1my) / n
        logp, p = self._log_softmax_and_targets(y, t)
        return -np.sum(p * logp) / (n // y.shape[-1])

    def gradient(self, y, t):
        n = y.size
        if self.name == "half_sse":
            return y - t
        if self.name == "sse":
            return 2 * (y - t)
        if self.name == "mse":
            return 2 * (y - t) / n
        if self.name == "bce":  # torch's binary_cross_entropy_backward
            return (y - t) / np.maximum(y * (1 - y), y.dtype.type(TORCH_BCE_EPSILON)) / n
        logp, p = self._log_softmax_and_targets(y, t)
        rows = n // y.shape[-1]
        return (np.exp(logp) * p.sum(axis=-1, keepdims=True) - p) / rows

    @staticmethod
    def _log_softmax_and_targets(y, t):
        shifted = y - y.max(axis=-1, keepdims=True)
        logp = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
        if t.dtype.kind == "i":  # class indices
            p = np.zeros_like(y)
            np.put_along_axis(p, t[..., None], 1, axis=-1)
        else:
            p = t
        return logp, p


class Network:
    def __init__(self, case: dict):
        network = case["network"]
        self.names = network["activations"]
        self.bias = network.get("bias", True)
        self.criterion = Loss(case["loss"])
        self.train_spec = case.get("train") or {}

    def _build(self, params):
        layers = []
        for i, name in enumerate(self.names):
            layers.append(Linear(params[f"layers.{i}.weight"], params[f"layers.{i}.bias"] if self.bias else None))
            layers.append(Softmax() if name == "softmax" else Activation(name))
        return layers

    def _run(self, layers, x):
        for layer in layers:
            x = layer.forward(x)
        return x

    def forward(self, params, inputs):
        return self._run(self._build(params), inputs)

    def loss(self, params, inputs, targets):
        return float(self.criterion.value(self.forward(params, inputs), targets))

    def gradients(self, params, inputs, targets):
        layers = self._build(params)
        y = self._run(layers, inputs)
        grad = self.criterion.gradient(y, targets)
        for layer in reversed(layers):
            grad = layer.backward(grad)
        grads = {}
        for i, layer in enumerate(layers[0::2]):
            grads[f"layers.{i}.weight"] = layer.grad_weight
            if self.bias:
                grads[f"layers.{i}.bias"] = layer.grad_bias
        return grads

    def intermediates(self, params, inputs):
        layers = self._build(params)
        self._run(layers, inputs)
        out = {}
        for i, activation in enumerate(layers[1::2]):
            out[f"layers.{i}.net"], out[f"layers.{i}.out"] = activation.z, activation.y
        return out

    def train(self, params, inputs, targets):
        spec = self.train_spec
        optimizer = SGD(spec) if spec["optimizer"] == "sgd" else Adam(spec)
        frozen = set(spec.get("frozen") or [])
        params = {name: value.copy() for name, value in params.items()}
        for _ in range(spec.get("steps", 1)):
            grads = self.gradients(params, inputs, targets)  # every gradient before any update
            optimizer.tick()
            for name in params:
                if name not in frozen:
                    params[name] = optimizer.update(name, params[name], grads[name])
        return params


class SGD:
    """torch.optim.SGD: g += wd p; buf = g (first step), mu buf + g after; p -= lr buf."""

    def __init__(self, spec):
        self.lr, self.momentum, self.decay = spec["lr"], spec.get("momentum", 0.0), spec.get("weight_decay", 0.0)
        self.buffers = {}

    def tick(self):
        pass

    def update(self, name, p, g):
        if self.decay:
            g = g + self.decay * p
        if self.momentum:
            g = self.buffers[name] = g if name not in self.buffers else self.momentum * self.buffers[name] + g
        return p - self.lr * g


class Adam:
    """torch.optim.Adam (L2 weight decay added to the gradient)."""

    def __init__(self, spec):
        self.lr, self.decay, self.eps = spec["lr"], spec.get("weight_decay", 0.0), spec.get("eps", 1e-8)
        self.beta1, self.beta2 = spec.get("betas", (0.9, 0.999))
        self.m, self.v, self.t = {}, {}, 0

    def tick(self):
        self.t += 1

    def update(self, name, p, g):
        if self.decay:
            g = g + self.decay * p
        m = self.m[name] = self.beta1 * self.m.get(name, 0) + (1 - self.beta1) * g
        v = self.v[name] = self.beta2 * self.v.get(name, 0) + (1 - self.beta2) * g * g
        correction1, correction2 = 1 - self.beta1**self.t, 1 - self.beta2**self.t
        return p - (self.lr / correction1) * m / (np.sqrt(v) / math.sqrt(correction2) + self.eps)


def factory(case: dict):
    if case["network"]["kind"] != "mlp":
        return None
    return Network(case)


factory.kinds = ("mlp",)
