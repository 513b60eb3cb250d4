"""numpy MLP with (in, out) weights, features x batch activations and einsum; follows torch's conventions."""

# refbp check --impl examples/corpus/inout_layout_einsum.py:factory
#
# The case gives `layers.{i}.weight` as [out, in] (torch.nn.Linear's layout). This
# implementation transposes each weight on entry and keeps W as [in, out], keeps every
# activation as [features, batch] (column-major thinking: a column per example), so a layer
# is  net = einsum("io,ib->ob", W, a) + b[:, None],  and transposes the weight gradients back
# to [out, in] (and the outputs back to [batch, features]) on exit. Slopes are taken from the
# pre-activation net; softmax runs over the feature axis (axis 0 here) with its Jacobian
# applied as s * (g - sum_k g_k s_k). Training keeps the (in, out) layout throughout and
# transposes the trained weights back at the end. Computes in the dtype of the arrays handed in.
# Conventions (torch's): relu'(0) = 0, leaky_relu'(0) = 0.01; bce as torch.nn.BCELoss, the logs
# clamped at -100 in the value and the backward (y - t) / max(y (1 - y), 1e-12f) / N.

from __future__ import annotations

import numpy as np

# torch's floor of y (1 - y) in BCELoss's backward: the float32 constant 1e-12f, in float64 too.
TORCH_BCE_EPSILON = float(np.float32(1e-12))  # 9.999999960041972e-13


def _sigmoid(z):
    out = np.empty_like(z)
    positive = z >= 0
    out[positive] = 1 / (1 + np.exp(-z[positive]))
    e = np.exp(z[~positive])
    out[~positive] = e / (1 + e)
    return out


def apply(name, z):
    if name == "identity":
        return z
    if name == "sigmoid":
        return _sigmoid(z)
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return z * (z > 0)
    if name == "leaky_relu":
        return np.where(z > 0, z, z * z.dtype.type(0.01))
    if name == "elu":
        return np.where(z > 0, z, np.expm1(np.where(z > 0, 0, z)))
    if name == "softplus":
        return np.logaddexp(z.dtype.type(0), z)
    if name == "softmax":  # over features: axis 0
        e = np.exp(z - z.max(axis=0, keepdims=True))
        return e / e.sum(axis=0, keepdims=True)
    raise ValueError(f"unknown activation {name!r}")


def slope(name, z):
    """f'(z), elementwise (softmax is handled apart)."""
    if name == "identity":
        return np.ones_like(z)
    if name == "sigmoid":
        s = _sigmoid(z)
        return s * (1 - s)
    if name == "tanh":
        return 1 - np.tanh(z) ** 2
    if name == "relu":
        return (z > 0).astype(z.dtype)
    if name == "leaky_relu":
        return np.where(z > 0, 1, 0.01).astype(z.dtype)
    if name == "elu":
        return np.where(z > 0, 1, np.exp(np.where(z > 0, 0, z))).astype(z.dtype)
    if name == "softplus":
        return _sigmoid(z)
    raise ValueError(f"no elementwise slope for {name!r}")


class InOutMLP:
    def __init__(self, case: dict):
        network = case["network"]
        self.activations = network["activations"]
        self.bias = network.get("bias", True)
        self.loss_name = case["loss"]
        self.train_spec = case.get("train") or {}

    # layout conversions ------------------------------------------------------------------
    def _to_inout(self, params):
        """{'W0': [in, out], 'b0': [out], ...} from the case's [out, in] weights."""
        inner = {}
        for i in range(len(self.activations)):
            inner[f"W{i}"] = np.ascontiguousarray(params[f"layers.{i}.weight"].T)
            if self.bias:
                inner[f"b{i}"] = params[f"layers.{i}.bias"]
        return inner

    def _to_case(self, inner):
        out = {}
        for i in range(len(self.activations)):
            out[f"layers.{i}.weight"] = np.ascontiguousarray(inner[f"W{i}"].T)
            if self.bias:
                out[f"layers.{i}.bias"] = inner[f"b{i}"]
        return out

    def _targets(self, targets, outputs):
        """Targets as [features, batch]; class indices as one-hot columns."""
        if targets.dtype.kind == "i":
            onehot = np.zeros((outputs, targets.shape[0]), dtype=np.float64)
            onehot[targets, np.arange(targets.shape[0])] = 1
            return onehot
        return targets.T

    # forward -----------------------------------------------------------------------------
    def _forward(self, inner, x_fb):
        nets, outs = [], [x_fb]
        for i, name in enumerate(self.activations):
            net = np.einsum("io,ib->ob", inner[f"W{i}"], outs[-1])
            if self.bias:
                net = net + inner[f"b{i}"][:, None]
            nets.append(net)
            outs.append(apply(name, net))
        return nets, outs

    def _loss_and_grad(self, y, t):
        """Loss and dL/dy on [features, batch] arrays."""
        n, batch = y.size, y.shape[1]
        if self.loss_name == "half_sse":
            return 0.5 * np.einsum("ob,ob->", y - t, y - t), y - t
        if self.loss_name == "sse":
            return np.einsum("ob,ob->", y - t, y - t), 2 * (y - t)
        if self.loss_name == "mse":
            return np.einsum("ob,ob->", y - t, y - t) / n, 2 * (y - t) / n
        if self.loss_name == "bce":
            with np.errstate(divide="ignore"):
                logs = np.maximum(np.log(y), -100), np.maximum(np.log(1 - y), -100)
            value = -(np.einsum("ob,ob->", t, logs[0]) + np.einsum("ob,ob->", 1 - t, logs[1])) / n
            return value, (y - t) / np.maximum(y * (1 - y), y.dtype.type(TORCH_BCE_EPSILON)) / n
        # cross_entropy: y are logits [C, B]; mean over the batch
        t = t.astype(y.dtype)
        m = y.max(axis=0, keepdims=True)
        log_z = m + np.log(np.exp(y - m).sum(axis=0, keepdims=True))
        log_p = y - log_z
        value = -np.einsum("cb,cb->", t, log_p) / batch
        return value, (np.exp(log_p) * t.sum(axis=0, keepdims=True) - t) / batch

    def _backward(self, inner, x_fb, t_fb):
        nets, outs = self._forward(inner, x_fb)
        loss, upstream = self._loss_and_grad(outs[-1], t_fb)
        grads = {}
        for i in reversed(range(len(self.activations))):
            name = self.activations[i]
            if name == "softmax":
                s = outs[i + 1]
                delta = s * (upstream - np.einsum("kb,kb->b", upstream, s)[None, :])
            else:
                delta = upstream * slope(name, nets[i])
            grads[f"W{i}"] = np.einsum("ib,ob->io", outs[i], delta)
            if self.bias:
                grads[f"b{i}"] = np.einsum("ob->o", delta)
            upstream = np.einsum("io,ob->ib", inner[f"W{i}"], delta)
        return loss, grads, nets, outs

    # the protocol ------------------------------------------------------------------------
    def forward(self, params, inputs):
        return self._forward(self._to_inout(params), inputs.T)[1][-1].T

    def loss(self, params, inputs, targets):
        y = self._forward(self._to_inout(params), inputs.T)[1][-1]
        return float(self._loss_and_grad(y, self._targets(targets, y.shape[0]))[0])

    def gradients(self, params, inputs, targets):
        inner = self._to_inout(params)
        t = self._targets(targets, inner[f"W{len(self.activations) - 1}"].shape[1])
        return self._to_case(self._backward(inner, inputs.T, t)[1])

    def intermediates(self, params, inputs):
        nets, outs = self._forward(self._to_inout(params), inputs.T)
        return {
            **{f"layers.{i}.net": z.T for i, z in enumerate(nets)},
            **{f"layers.{i}.out": a.T for i, a in enumerate(outs[1:])},
        }

    def train(self, params, inputs, targets):
        spec = self.train_spec
        inner = self._to_inout(params)
        t = self._targets(targets, inner[f"W{len(self.activations) - 1}"].shape[1])
        x = inputs.T
        frozen = set()
        for name in spec.get("frozen") or []:  # case names -> inner names
            i = name.split(".")[1]
            frozen.add(("W" if name.endswith("weight") else "b") + i)
        lr, decay = spec["lr"], spec.get("weight_decay", 0.0)
        beta1, beta2 = spec.get("betas", (0.9, 0.999))
        eps, momentum = spec.get("eps", 1e-8), spec.get("momentum", 0.0)
        first = dict.fromkeys(inner)
        second = dict.fromkeys(inner)
        for step in range(1, spec.get("steps", 1) + 1):
            grads = self._backward(inner, x, t)[1]
            for k in inner:
                if k in frozen:
                    continue
                g = grads[k] + decay * inner[k]
                if spec["optimizer"] == "sgd":
                    if momentum:
                        first[k] = g if first[k] is None else momentum * first[k] + g
                        g = first[k]
                    inner[k] = inner[k] - lr * g
                else:
                    first[k] = (1 - beta1) * g if first[k] is None else beta1 * first[k] + (1 - beta1) * g
                    second[k] = (1 - beta2) * g * g if second[k] is None else beta2 * second[k] + (1 - beta2) * g * g
                    denom = np.sqrt(second[k]) / np.sqrt(1 - beta2**step).astype(g.dtype) + eps
                    inner[k] = inner[k] - (lr / (1 - beta1**step)) * first[k] / denom
        return self._to_case(inner)


def factory(case: dict):
    if case["network"]["kind"] != "mlp":
        return None
    return InOutMLP(case)


factory.kinds = ("mlp",)
