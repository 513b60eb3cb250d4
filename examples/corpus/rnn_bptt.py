"""numpy Elman RNN with hand-written BPTT (truncation, h0, every/last step readout); follows torch's conventions."""

# refbp check --impl examples/corpus/rnn_bptt.py:factory
#
#   net_t = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh,   h_t = f(net_t)   (f: tanh or relu)
#   z_t = h_t W_o^T + b_o,  y_t = g(z_t)   at every step (every_step) or at t = T (last_step)
#
# Backward, from t = T down to 1:  dL/dh_t = (readout's term at t) + dL/dnet_{t+1} W_hh,
# dL/dnet_t = dL/dh_t * f'(net_t); dW_ih += dnet_t^T x_t, dW_hh += dnet_t^T h_{t-1},
# db_ih = db_hh += sum_b dnet_t. With `truncate: k` the state h_{ck} (c >= 1) entering each chunk
# is a constant: the term dL/dnet_{ck+1} W_hh is not sent back into h_{ck} (its value still
# enters dW_hh at step ck + 1). h0 (given or zeros) is a constant input; its gradient is not
# asked for. Losses reduce over batch and time together (mean or sum as the loss says);
# training runs torch.optim's SGD and Adam rules. Computes in the dtype of the arrays handed in.
# Conventions (torch's): relu'(0) = 0, leaky_relu'(0) = 0.01; bce as torch.nn.BCELoss, the logs
# clamped at -100 in the value and the backward (y - t) / max(y (1 - y), 1e-12f) / N.

from __future__ import annotations

import numpy as np

# torch's floor of y (1 - y) in BCELoss's backward: the float32 constant 1e-12f, in float64 too.
TORCH_BCE_EPSILON = float(np.float32(1e-12))  # 9.999999960041972e-13


def sigmoid(z):
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def act(name, z):
    """(value, slope) of an elementwise activation, or (value, None) for softmax."""
    if name == "identity":
        return z, np.ones_like(z)
    if name == "sigmoid":
        s = sigmoid(z)
        return s, s * (1 - s)
    if name == "tanh":
        h = np.tanh(z)
        return h, 1 - h * h
    if name == "relu":
        return np.maximum(z, 0).astype(z.dtype), (z > 0).astype(z.dtype)
    if name == "leaky_relu":
        return np.where(z > 0, z, z * z.dtype.type(0.01)), np.where(z > 0, 1, 0.01).astype(z.dtype)
    if name == "elu":
        negative = np.minimum(z, 0)
        return np.where(z > 0, z, np.expm1(negative)), np.where(z > 0, 1, np.exp(negative)).astype(z.dtype)
    if name == "softplus":
        return np.logaddexp(z.dtype.type(0), z), sigmoid(z)
    if name == "softmax":
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True), None
    raise ValueError(f"unknown activation {name!r}")


class ElmanRNN:
    def __init__(self, case: dict):
        net = case["network"]
        self.hidden = net["hidden_size"]
        self.nonlinearity = net.get("nonlinearity", "tanh")
        self.output_activation = net.get("output_activation", "identity")
        self.every_step = net.get("readout", "every_step") == "every_step"
        self.bias = net.get("bias", True)
        self.readout_bias = net.get("readout_bias", True)
        self.truncate = net.get("truncate")
        self.loss_name = case["loss"]
        self.h0 = case.get("h0")
        self.train_spec = case.get("train") or {}

    # forward -----------------------------------------------------------------------------
    def _forward(self, p, x):
        batch, steps, _ = x.shape
        h = np.zeros((batch, self.hidden), dtype=x.dtype) if self.h0 is None else self.h0.astype(x.dtype)
        states, nets, slopes = [h], [], []
        for t in range(steps):
            net = x[:, t] @ p["rnn.weight_ih"].T + h @ p["rnn.weight_hh"].T
            if self.bias:
                net = net + p["rnn.bias_ih"] + p["rnn.bias_hh"]
            h, slope = act(self.nonlinearity, net)
            nets.append(net)
            slopes.append(slope)
            states.append(h)
        read_from = np.stack(states[1:], axis=1) if self.every_step else states[-1]  # [B, T, H] or [B, H]
        z = read_from @ p["readout.weight"].T
        if self.readout_bias:
            z = z + p["readout.bias"]
        y, y_slope = act(self.output_activation, z)
        return {
            "states": states,
            "nets": nets,
            "slopes": slopes,
            "read_from": read_from,
            "z": z,
            "y": y,
            "y_slope": y_slope,
        }

    # loss --------------------------------------------------------------------------------
    def _loss(self, y, t):
        """(loss, dL/dy) with batch and time reduced together."""
        count = y.size
        if self.loss_name == "half_sse":
            d = y - t
            return 0.5 * np.sum(d * d), d
        if self.loss_name == "sse":
            d = y - t
            return np.sum(d * d), 2 * d
        if self.loss_name == "mse":
            d = y - t
            return np.sum(d * d) / count, 2 * d / count
        if self.loss_name == "bce":
            with np.errstate(divide="ignore"):
                a, b = np.maximum(np.log(y), -100), np.maximum(np.log(1 - y), -100)
            floor = y.dtype.type(TORCH_BCE_EPSILON)
            return -np.sum(t * a + (1 - t) * b) / count, (y - t) / np.maximum(y * (1 - y), floor) / count
        # cross_entropy over logits: rows are (batch, time) examples
        classes = y.shape[-1]
        rows = count // classes
        logits = y.reshape(rows, classes)
        if t.dtype.kind == "i":
            target = np.zeros_like(logits)
            target[np.arange(rows), t.reshape(rows)] = 1
        else:
            target = t.reshape(rows, classes)
        shift = logits - logits.max(axis=1, keepdims=True)
        log_p = shift - np.log(np.exp(shift).sum(axis=1, keepdims=True))
        loss = -np.sum(target * log_p) / rows
        grad = (np.exp(log_p) * target.sum(axis=1, keepdims=True) - target) / rows
        return loss, grad.reshape(y.shape)

    # backward ----------------------------------------------------------------------------
    def _bptt(self, p, x, targets):
        f = self._forward(p, x)
        loss, dy = self._loss(f["y"], targets)
        if f["y_slope"] is None:  # softmax readout: J^T dy per row
            s = f["y"]
            dz = s * (dy - (dy * s).sum(axis=-1, keepdims=True))
        else:
            dz = dy * f["y_slope"]
        hidden = f["read_from"].reshape(-1, self.hidden)
        grads = {"readout.weight": dz.reshape(len(hidden), -1).T @ hidden}
        if self.readout_bias:
            grads["readout.bias"] = dz.reshape(-1, dz.shape[-1]).sum(axis=0)
        dh_readout = dz @ p["readout.weight"]  # [B, T, H] or [B, H]
        steps = x.shape[1]
        g_ih = np.zeros_like(p["rnn.weight_ih"])
        g_hh = np.zeros_like(p["rnn.weight_hh"])
        g_b = np.zeros(self.hidden, dtype=x.dtype)
        carry = np.zeros_like(f["states"][0])  # dL/dh_t from step t + 1
        grad_h, grad_net = [None] * steps, [None] * steps
        for t in range(steps, 0, -1):  # t: 1-based step, h_t = states[t]
            if self.every_step:
                dh = dh_readout[:, t - 1] + carry
            else:
                dh = carry + dh_readout if t == steps else carry
            dnet = dh * f["slopes"][t - 1]
            grad_h[t - 1], grad_net[t - 1] = dh, dnet
            g_ih += dnet.T @ x[:, t - 1]
            g_hh += dnet.T @ f["states"][t - 1]
            g_b += dnet.sum(axis=0)
            chunk_entry = self.truncate is not None and (t - 1) > 0 and (t - 1) % self.truncate == 0
            carry = np.zeros_like(carry) if chunk_entry else dnet @ p["rnn.weight_hh"]
        grads["rnn.weight_ih"], grads["rnn.weight_hh"] = g_ih, g_hh
        if self.bias:
            grads["rnn.bias_ih"], grads["rnn.bias_hh"] = g_b, g_b.copy()
        signals = {"rnn.grad_h": np.stack(grad_h, axis=1), "rnn.grad_net": np.stack(grad_net, axis=1)}
        return loss, grads, f, signals

    # the protocol ------------------------------------------------------------------------
    def forward(self, params, inputs):
        return self._forward(params, inputs)["y"]

    def loss(self, params, inputs, targets):
        return float(self._loss(self._forward(params, inputs)["y"], targets)[0])

    def gradients(self, params, inputs, targets):
        return self._bptt(params, inputs, targets)[1]

    def intermediates(self, params, inputs):
        f = self._forward(params, inputs)
        return {
            "rnn.net": np.stack(f["nets"], axis=1),
            "rnn.h": np.stack(f["states"][1:], axis=1),
            "readout.net": f["z"],
            "readout.out": f["y"],
        }

    def error_signals(self, params, inputs, targets):
        return self._bptt(params, inputs, targets)[3]

    def train(self, params, inputs, targets):
        spec = self.train_spec
        params = {k: v.copy() for k, v in params.items()}
        trained = [k for k in params if k not in set(spec.get("frozen") or [])]
        optimizer = Optimizer(spec, trained)
        for _ in range(spec.get("steps", 1)):
            grads = self._bptt(params, inputs, targets)[1]  # all gradients first
            optimizer.step(params, grads)
        return params


class Optimizer:
    """torch.optim.SGD (momentum, L2 weight decay) and torch.optim.Adam, updating in place."""

    def __init__(self, spec, names):
        self.spec, self.names, self.count = spec, names, 0
        self.state = {name: [None, None] for name in names}

    def step(self, params, grads):
        spec, self.count = self.spec, self.count + 1
        decay = spec.get("weight_decay", 0.0)
        for name in self.names:
            g = grads[name]
            if decay:
                g = g + decay * params[name]
            buffers = self.state[name]
            if spec["optimizer"] == "sgd":
                momentum = spec.get("momentum", 0.0)
                if momentum:
                    buffers[0] = g if buffers[0] is None else momentum * buffers[0] + g
                    g = buffers[0]
                params[name] = params[name] - spec["lr"] * g
            else:
                beta1, beta2 = spec.get("betas", (0.9, 0.999))
                m = (1 - beta1) * g if buffers[0] is None else beta1 * buffers[0] + (1 - beta1) * g
                v = (1 - beta2) * g * g if buffers[1] is None else beta2 * buffers[1] + (1 - beta2) * g * g
                buffers[0], buffers[1] = m, v
                bc1, bc2 = 1 - beta1**self.count, 1 - beta2**self.count
                params[name] = params[name] - (spec["lr"] / bc1) * m / (np.sqrt(v) / bc2**0.5 + spec.get("eps", 1e-8))


def factory(case: dict):
    if case["network"]["kind"] != "rnn":
        return None
    return ElmanRNN(case)


factory.kinds = ("rnn",)
