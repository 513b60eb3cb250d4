"""numpy MLP on a small tape; relu'(0) = leaky_relu'(0) = 1, bce's gradient the derivative of its clamped value."""

# refbp check --impl examples/corpus/relu_right_derivative.py:factory
#
# Conventions, each a correct one that differs from torch's somewhere:
# - relu and leaky_relu take their RIGHT derivative at 0: slope 1 at z = 0 (torch: 0 and
#   0.01). At z = 0 the function has no derivative; any value in [0, 1] ([0.01, 1]) is a
#   subgradient.
# - bce's value is torch's, mean(-(t max(log y, -100) + (1 - t) max(log(1 - y), -100))), and its
#   gradient is that value's derivative, term by term: d max(log y, -100)/dy = 1/y where
#   log y > -100 and 0 where the log is clamped (likewise for 1 - y). Torch's backward instead
#   floors y (1 - y) at 1e-12 and never looks at the clamp. The two agree wherever
#   y (1 - y) >= 1e-12 and no log is clamped.
#   The slope dL/dy is formed in float64 and multiplied by the sigmoid's slope there, so that
#   1/y of a subnormal float32 output cannot overflow; the product is rounded to the case's
#   dtype.
# - elu'(0) = 1 (both sides agree), softmax and everything else as the definitions say.
# The tape: a Node holds a value, a gradient and a closure that sends its gradient to its
# parents; `backward` visits the nodes in reverse creation order. Computes in the dtype of the
# arrays it is handed.

from __future__ import annotations

import numpy as np


class Node:
    def __init__(self, tape, value, parents=(), send=None):
        self.value, self.parents, self.send = value, parents, send
        self.grad = None
        tape.append(self)

    def accumulate(self, g):
        self.grad = g if self.grad is None else self.grad + g


def backward(tape, root, seed):
    root.grad = seed
    for node in reversed(tape):
        if node.grad is not None and node.send is not None:
            node.send(node.grad)


# ---- ops: each returns a Node whose `send` knows the local derivative -------------------------


def affine(tape, x, w, b):
    """x @ w.T (+ b)."""
    value = x.value @ w.value.T
    if b is not None:
        value = value + b.value

    def send(g):
        x.accumulate(g @ w.value)
        w.accumulate(np.einsum("bo,bi->oi", g, x.value))
        if b is not None:
            b.accumulate(g.sum(axis=0))

    return Node(tape, value, (x, w, b), send)


def _logistic(z):
    """1 / (1 + e^-z) as exp(min(z, 0) - log(1 + e^-|z|)): no overflow, tiny values kept."""
    return np.exp(np.minimum(z, 0) - np.log1p(np.exp(-np.abs(z))))


def activation(tape, name, z):
    v = z.value
    one = v.dtype.type(1)
    if name == "identity":
        value, slope = v, np.ones_like(v)
    elif name == "sigmoid":
        value = _logistic(v)
        slope = value * (one - value)
    elif name == "tanh":
        value = np.tanh(v)
        slope = one - value * value
    elif name == "relu":
        value = np.where(v >= 0, v, 0).astype(v.dtype)
        slope = (v >= 0).astype(v.dtype)  # right derivative: 1 at 0
    elif name == "leaky_relu":
        value = np.where(v >= 0, v, v * v.dtype.type(0.01))
        slope = np.where(v >= 0, 1, 0.01).astype(v.dtype)  # right derivative: 1 at 0
    elif name == "elu":
        value = np.where(v >= 0, v, np.expm1(np.minimum(v, 0)))
        slope = np.where(v >= 0, 1, np.exp(np.minimum(v, 0))).astype(v.dtype)
    elif name == "softplus":
        value = np.logaddexp(v.dtype.type(0), v)
        slope = _logistic(v)
    elif name == "softmax":
        e = np.exp(v - v.max(axis=-1, keepdims=True))
        value = e / e.sum(axis=-1, keepdims=True)

        def send(g):  # J^T g with J = diag(s) - s s^T, per row
            z.accumulate(value * g - value * np.einsum("bk,bk->b", value, g)[:, None])

        return Node(tape, value, (z,), send)
    else:
        raise ValueError(f"unknown activation {name!r}")
    node = Node(tape, value, (z,), lambda g: z.accumulate(g * slope))
    node.activation = name
    return node


def loss_node(tape, name, y, t):
    v = y.value
    n = v.size
    if name in ("half_sse", "sse", "mse"):
        d = v - t
        scale = {"half_sse": 0.5, "sse": 1.0, "mse": 1.0 / n}[name]
        return Node(tape, scale * np.sum(d * d), (y,), lambda g: y.accumulate(g * 2 * scale * d))
    if name == "bce":
        return _bce(tape, y, t)
    # cross_entropy on logits: -sum p log softmax(v) / rows
    rows = n // v.shape[-1]
    shifted = v - v.max(axis=-1, keepdims=True)
    log_softmax = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    if t.dtype.kind == "i":
        p = (np.arange(v.shape[-1]) == t[..., None]).astype(v.dtype)
    else:
        p = t
    value = -np.sum(p * log_softmax) / rows
    return Node(
        tape, value, (y,), lambda g: y.accumulate(g * (np.exp(log_softmax) * p.sum(axis=-1, keepdims=True) - p) / rows)
    )


def _bce(tape, y, t):
    v = y.value
    n = v.size
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_y, log_not_y = np.log(v), np.log(1 - v)
        keep_y, keep_not_y = log_y > -100, log_not_y > -100  # where the clamp is not active
        value = -np.sum(t * np.maximum(log_y, -100) + (1 - t) * np.maximum(log_not_y, -100)) / n
        wide, target = v.astype(np.float64), t.astype(np.float64)
        # d/dy of the clamped logs: 1/y and -1/(1 - y) where kept, 0 where clamped
        slope = (
            -(
                np.where(keep_y, target / np.where(keep_y, wide, 1.0), 0.0)
                - np.where(keep_not_y, (1 - target) / np.where(keep_not_y, 1 - wide, 1.0), 0.0)
            )
            / n
        )

    def send(g):
        y.wide_grad = g * slope  # kept in float64 for the sigmoid below (see the header)
        y.accumulate((g * slope).astype(v.dtype))

    return Node(tape, value, (y,), send)


# ---- the network ---------------------------------------------------------------------------


class TapeMLP:
    def __init__(self, case: dict):
        network = case["network"]
        self.activations = network["activations"]
        self.bias = network.get("bias", True)
        self.loss_name = case["loss"]
        self.train_spec = case.get("train") or {}

    def _graph(self, params, inputs, targets=None):
        tape = []
        leaves = {name: Node(tape, value) for name, value in params.items()}
        x = Node(tape, inputs)
        nodes = []
        for i, name in enumerate(self.activations):
            net = affine(tape, x, leaves[f"layers.{i}.weight"], leaves.get(f"layers.{i}.bias") if self.bias else None)
            x = activation(tape, name, net)
            nodes.append((net, x))
        if self.loss_name == "bce" and targets is not None:
            _wide_sigmoid_backward(x, nodes[-1][0])
        loss = None if targets is None else loss_node(tape, self.loss_name, x, targets)
        return tape, leaves, nodes, loss

    def forward(self, params, inputs):
        return self._graph(params, inputs)[2][-1][1].value

    def loss(self, params, inputs, targets):
        return float(self._graph(params, inputs, targets)[3].value)

    def gradients(self, params, inputs, targets):
        tape, leaves, _, loss = self._graph(params, inputs, targets)
        backward(tape, loss, 1.0)
        return {
            name: node.grad if node.grad is not None else np.zeros_like(node.value) for name, node in leaves.items()
        }

    def intermediates(self, params, inputs):
        nodes = self._graph(params, inputs)[2]
        return {
            **{f"layers.{i}.net": net.value for i, (net, _) in enumerate(nodes)},
            **{f"layers.{i}.out": out.value for i, (_, out) in enumerate(nodes)},
        }

    def train(self, params, inputs, targets):
        spec = self.train_spec
        frozen = set(spec.get("frozen") or [])
        decay = spec.get("weight_decay", 0.0)
        params = {k: v.copy() for k, v in params.items()}
        state = {k: {} for k in params}
        for step in range(1, spec.get("steps", 1) + 1):
            grads = self.gradients(params, inputs, targets)
            for name in params:
                if name in frozen:
                    continue
                g = grads[name] + decay * params[name] if decay else grads[name]
                s = state[name]
                if spec["optimizer"] == "sgd":
                    mu = spec.get("momentum", 0.0)
                    if mu:
                        s["buf"] = g if "buf" not in s else mu * s["buf"] + g
                        g = s["buf"]
                    params[name] = params[name] - spec["lr"] * g
                else:
                    b1, b2 = spec.get("betas", (0.9, 0.999))
                    s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
                    s["v"] = b2 * s.get("v", 0.0) + (1 - b2) * g * g
                    m_hat = s["m"] / (1 - b1**step)
                    v_hat = s["v"] / (1 - b2**step)
                    params[name] = params[name] - spec["lr"] * m_hat / (np.sqrt(v_hat) + spec.get("eps", 1e-8))
        return params


def _wide_sigmoid_backward(out, net):
    """Under bce the output sigmoid multiplies its slope into the loss's float64 dL/dy before
    rounding to the case's dtype (a float32 1/y may overflow; the product never does)."""
    if getattr(out, "activation", None) != "sigmoid":
        return
    y = out.value.astype(np.float64)

    def send(g):
        wide = getattr(out, "wide_grad", None)
        net.accumulate(
            (wide * (y * (1 - y))).astype(out.value.dtype) if wide is not None else g * (out.value * (1 - out.value))
        )

    out.send = send


def factory(case: dict):
    if case["network"]["kind"] != "mlp":
        return None
    return TapeMLP(case)


factory.kinds = ("mlp",)
