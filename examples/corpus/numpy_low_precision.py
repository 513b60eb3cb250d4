"""numpy MLP and Elman RNN computed in float16 (numpy's) or bfloat16 (ml_dtypes'), backward by hand."""

# refbp check --impl examples/corpus/numpy_low_precision.py:factory_float16 --dtype float16
# refbp check --impl examples/corpus/numpy_low_precision.py:factory_bfloat16 --dtype bfloat16
#
# Every value is kept in the dtype of the arrays handed in: float16 for a float16 case; a
# bfloat16 case's numbers come in float32 arrays and are computed in ml_dtypes' bfloat16; refbp's
# finite differences of this implementation's own loss hand it float64 parameters.
# Products go through numpy's matmul, which accumulates float16 in float32 and rounds once, as
# torch's CPU kernels do; ml_dtypes' bfloat16 matmul returns float32, rounded back here (`mm`).
# Conventions, torch's: relu'(0) = 0, leaky_relu'(0) = 0.01; bce as torch.nn.BCELoss (logs clamped
# at -100, backward (y - t) / max(y (1 - y), eps)); softmax and cross-entropy subtract the row's
# maximum. Training follows torch.optim.SGD and torch.optim.Adam's update rules.

from __future__ import annotations

import numpy as np


def mm(a, b):
    """a @ b in a's dtype (bfloat16's matmul answers float32)."""
    return (a @ b).astype(a.dtype)


def batch_sum(d):
    """Sum over the batch (axis 0), accumulated in float32 and rounded once, as torch does: numpy's
    sum along axis 0 adds row after row in the array's own dtype, which in float16 loses the
    small terms of a long sum."""
    return d.sum(axis=0, dtype=np.float32).astype(d.dtype)


def sigmoid(z):
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e)).astype(z.dtype)


def activation(name, z):
    """(out, slope) of an elementwise activation; softmax: (out, None)."""
    one = np.ones_like(z)
    if name == "identity":
        return z, one
    if name == "sigmoid":
        s = sigmoid(z)
        return s, s * (one - s)
    if name == "tanh":
        h = np.tanh(z)
        return h, one - h * h
    if name == "relu":
        return np.maximum(z, 0).astype(z.dtype), (z > 0).astype(z.dtype)
    if name == "leaky_relu":
        slope = np.where(z > 0, one, (0.01 * one).astype(z.dtype)).astype(z.dtype)
        return (z * slope).astype(z.dtype), slope
    if name == "elu":
        out = np.where(z > 0, z, np.expm1(np.minimum(z, 0))).astype(z.dtype)
        return out, np.where(z > 0, one, out + one).astype(z.dtype)
    if name == "softplus":
        return (np.log1p(np.exp(-np.abs(z))) + np.maximum(z, 0)).astype(z.dtype), sigmoid(z)
    if name == "softmax":
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        return (e / e.sum(axis=-1, keepdims=True)).astype(z.dtype), None
    raise ValueError(f"unknown activation {name!r}")


def back_through(name, grad_out, out, slope):
    """dL/dnet from dL/dout."""
    if slope is None:  # softmax: out * (g - <g, out>)
        return (out * (grad_out - (grad_out * out).sum(axis=-1, keepdims=True))).astype(out.dtype)
    return (grad_out * slope).astype(out.dtype)


def tiny(dtype) -> float:
    """The smallest normal number of `dtype` (bce's floor of y (1 - y) where 1e-12 underflows)."""
    import ml_dtypes

    return max(1e-12, float(ml_dtypes.finfo(dtype).tiny))


def loss_and_grad(name, y, t):
    """(loss, dL/dy), means over examples as torch.nn's losses take them."""
    dtype = y.dtype
    if name in ("half_sse", "sse", "mse"):
        d = y - t
        scale = {"half_sse": 0.5, "sse": 1.0, "mse": 1.0 / d.size}[name]
        return float(scale * (d * d).sum()), (2 * scale * d).astype(dtype)
    if name == "bce":
        log_y = np.maximum(np.log(np.where(y > 0, y, 1)), -100).astype(dtype)
        log_y = np.where(y > 0, log_y, -100).astype(dtype)
        one_minus = (1 - y).astype(dtype)
        log_1my = np.where(one_minus > 0, np.maximum(np.log(np.where(one_minus > 0, one_minus, 1)), -100), -100)
        loss = -(t * log_y + (1 - t) * log_1my.astype(dtype)).astype(dtype).mean()
        denominator = np.maximum((y * one_minus).astype(np.float32), tiny(dtype))
        return float(loss), ((y - t).astype(np.float32) / denominator / y.size).astype(dtype)
    if name == "cross_entropy":
        classes = y.shape[-1]
        logits = y.reshape(-1, classes)
        if t.dtype.kind == "i":
            p = np.zeros_like(logits)
            p[np.arange(len(logits)), t.reshape(-1)] = 1
        else:
            p = t.reshape(-1, classes).astype(dtype)
        shifted = logits - logits.max(axis=-1, keepdims=True)
        e = np.exp(shifted)
        total = e.sum(axis=-1, keepdims=True)
        log_softmax = (shifted - np.log(total)).astype(dtype)
        loss = -(p * log_softmax).sum(axis=-1).mean()
        grad = ((e / total).astype(dtype) * p.sum(axis=-1, keepdims=True) - p) / len(logits)
        return float(loss), grad.astype(dtype).reshape(y.shape)
    raise ValueError(f"unknown loss {name!r}")


class Net:
    """One case's network: forward and backward in the dtype of the parameters handed in."""

    def __init__(self, case: dict):
        self.net, self.loss_name = case["network"], case["loss"]
        self.h0 = case.get("h0")
        self.train_spec = case.get("train") or {}
        # refbp hands a bfloat16 case's numbers in float32 arrays (numpy has no bfloat16 of its own)
        self.bfloat16 = case.get("dtype") == "bfloat16"

    def own(self, value):
        """An array (or a dict of them) in the dtype this computes in: bfloat16 for the float32
        arrays of a bfloat16 case, else as handed in (float64 from refbp's finite differences)."""
        if isinstance(value, dict):
            return {k: self.own(v) for k, v in value.items()}
        value = np.asarray(value)
        if self.bfloat16 and value.dtype == np.float32:
            import ml_dtypes

            return value.astype(ml_dtypes.bfloat16)
        return value

    # MLP ----------------------------------------------------------------------------------
    def mlp(self, p, x):
        cache, out = [], x
        for i, name in enumerate(self.net["activations"]):
            z = mm(out, p[f"layers.{i}.weight"].T)
            if f"layers.{i}.bias" in p:
                z = (z + p[f"layers.{i}.bias"]).astype(x.dtype)
            new, slope = activation(name, z)
            cache.append((out, new, slope))
            out = new
        return out, cache

    def mlp_backward(self, p, cache, g):
        grads = {}
        for i in reversed(range(len(cache))):
            x_in, out, slope = cache[i]
            d = back_through(self.net["activations"][i], g, out, slope)
            grads[f"layers.{i}.weight"] = mm(d.T, x_in)
            if f"layers.{i}.bias" in p:
                grads[f"layers.{i}.bias"] = batch_sum(d)
            g = mm(d, p[f"layers.{i}.weight"])
        return grads

    # RNN ----------------------------------------------------------------------------------
    def rnn(self, p, x):
        batch, steps, _ = x.shape
        hidden = self.net["hidden_size"]
        h = np.zeros((batch, hidden), x.dtype) if self.h0 is None else np.asarray(self.h0).astype(x.dtype)
        states, slopes = [h], []
        for t in range(steps):
            z = mm(x[:, t], p["rnn.weight_ih"].T) + mm(h, p["rnn.weight_hh"].T)
            if "rnn.bias_ih" in p:
                z = z + p["rnn.bias_ih"] + p["rnn.bias_hh"]
            h, slope = activation(self.net.get("nonlinearity", "tanh"), z.astype(x.dtype))
            states.append(h)
            slopes.append(slope)
        every = self.net.get("readout", "every_step") == "every_step"
        hs = np.stack(states[1:], axis=1) if every else states[-1]
        z = mm(hs, p["readout.weight"].T)
        if "readout.bias" in p:
            z = (z + p["readout.bias"]).astype(x.dtype)
        out, slope = activation(self.net.get("output_activation", "identity"), z)
        return out, (x, states, slopes, hs, out, slope, every)

    def rnn_backward(self, p, cache, g):
        x, states, slopes, hs, out, slope, every = cache
        d = back_through(self.net.get("output_activation", "identity"), g, out, slope)
        flat_d, flat_h = d.reshape(-1, d.shape[-1]), hs.reshape(-1, hs.shape[-1])
        grads = {"readout.weight": mm(flat_d.T, flat_h)}
        if "readout.bias" in p:
            grads["readout.bias"] = batch_sum(flat_d)
        steps, k = x.shape[1], self.net.get("truncate") or x.shape[1]
        dh_out = mm(d, p["readout.weight"])  # [B, T, H] or [B, H]
        names = ("rnn.weight_ih", "rnn.weight_hh") + (("rnn.bias_ih",) if "rnn.bias_ih" in p else ())
        # The sums over time are kept in float32 and rounded once (torch sums the input weights'
        # terms over batch and time in one product; rounding at every step loses the small terms).
        acc = {n: np.zeros(p[n].shape, np.float32) for n in names}
        carry = np.zeros_like(states[0])
        for t in reversed(range(steps)):
            dh = (dh_out[:, t] if every else (dh_out if t == steps - 1 else 0)) + carry
            dnet = (dh * slopes[t]).astype(x.dtype)
            wide = dnet.astype(np.float32)
            acc["rnn.weight_ih"] += wide.T @ x[:, t].astype(np.float32)
            acc["rnn.weight_hh"] += wide.T @ states[t].astype(np.float32)
            if "rnn.bias_ih" in acc:
                acc["rnn.bias_ih"] += wide.sum(axis=0)
            carry = mm(dnet, p["rnn.weight_hh"]) if t % k != 0 else np.zeros_like(carry)  # a chunk's start: cut
        grads.update({n: a.astype(x.dtype) for n, a in acc.items()})
        if "rnn.bias_ih" in acc:
            grads["rnn.bias_hh"] = acc["rnn.bias_ih"].copy()
        return grads

    # the protocol -------------------------------------------------------------------------
    def _run(self, p, x):
        return self.mlp(p, x) if self.net["kind"] == "mlp" else self.rnn(p, x)

    def forward(self, params, inputs):
        params = self.own(params)
        return self._run(params, inputs.astype(_dtype(params)))[0]

    def loss(self, params, inputs, targets):
        params = self.own(params)
        dtype = _dtype(params)
        y, _ = self._run(params, inputs.astype(dtype))
        return loss_and_grad(self.loss_name, y, _targets(targets, dtype))[0]

    def gradients(self, params, inputs, targets):
        params = self.own(params)
        dtype = _dtype(params)
        y, cache = self._run(params, inputs.astype(dtype))
        _, g = loss_and_grad(self.loss_name, y, _targets(targets, dtype))
        backward = self.mlp_backward if self.net["kind"] == "mlp" else self.rnn_backward
        return backward(params, cache, g)

    def train(self, params, inputs, targets):
        spec, p = self.train_spec, self.own(dict(params))
        frozen = set(spec.get("frozen") or [])
        lr, wd = spec["lr"], spec.get("weight_decay", 0.0)
        state: dict = {}
        for step in range(1, spec.get("steps", 1) + 1):
            grads = self.gradients(p, inputs, targets)
            for name in p:
                if name in frozen:
                    continue
                g = (grads[name] + wd * p[name]).astype(p[name].dtype) if wd else grads[name]
                p[name] = (p[name] - self._step(spec, state, name, g, step, lr)).astype(p[name].dtype)
        return p

    @staticmethod
    def _step(spec, state, name, g, step, lr):
        if spec["optimizer"] == "sgd":
            mu = spec.get("momentum", 0.0)
            if mu:
                state[name] = g if name not in state else (mu * state[name] + g).astype(g.dtype)
                g = state[name]
            return (lr * g).astype(g.dtype)
        b1, b2 = spec.get("betas", (0.9, 0.999))
        m, v = state.get(name, (np.zeros_like(g), np.zeros_like(g)))
        m, v = (b1 * m + (1 - b1) * g).astype(g.dtype), (b2 * v + (1 - b2) * g * g).astype(g.dtype)
        state[name] = (m, v)
        denominator = np.sqrt(v) / np.sqrt(1 - b2**step) + spec.get("eps", 1e-8)
        return (lr / (1 - b1**step) * m / denominator).astype(g.dtype)


def _dtype(params):
    return np.asarray(next(iter(params.values()))).dtype


def _targets(targets, dtype):
    return targets if targets.dtype.kind == "i" else targets.astype(dtype)


def _factory(wanted: str):
    def factory(case: dict):
        if case["network"]["kind"] not in ("mlp", "rnn") or case.get("dtype", "float64") != wanted:
            return None
        return Net(case)

    factory.kinds = ("mlp", "rnn")
    return factory


factory_float16 = _factory("float16")  # float16 cases only, computed in float16
factory_bfloat16 = _factory("bfloat16")  # bfloat16 cases only, computed in ml_dtypes' bfloat16
