"""Layers in CS231n's style (assignment 2's layers.py, assignment 3's rnn_layers.py), written here
from the definitions, and checked from their declaration alone:

    refbp check --layer examples/layers/cs231n_layers.py

Each forward returns (out, cache); each backward(dout, cache) returns the gradients; weights are
laid out (in, out); softmax_loss(x, y) returns (loss, dx).
"""

import numpy as np


def affine_forward(x, w, b):
    out = x.reshape(x.shape[0], -1) @ w + b
    return out, (x, w)


def affine_backward(dout, cache):
    x, w = cache
    dx = (dout @ w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T @ dout
    db = dout.sum(axis=0)
    return dx, dw, db


def relu_forward(x):
    return np.maximum(x, 0.0), x


def relu_backward(dout, cache):
    return dout * (cache > 0)


def sigmoid_forward(x):
    out = np.exp(-np.logaddexp(0.0, -x))
    return out, out


def sigmoid_backward(dout, cache):
    return dout * cache * (1.0 - cache)


def tanh_forward(x):
    out = np.tanh(x)
    return out, out


def tanh_backward(dout, cache):
    return dout * (1.0 - cache**2)


def softmax_loss(x, y):
    shifted = x - x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = x.shape[0]
    loss = -log_probs[np.arange(n), y].mean()
    dx = np.exp(log_probs)
    dx[np.arange(n), y] -= 1.0
    return loss, dx / n


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)
    return next_h, (x, prev_h, Wx, Wh, next_h)


def rnn_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    dnet = dnext_h * (1.0 - next_h**2)
    return dnet @ Wx.T, dnet @ Wh.T, x.T @ dnet, prev_h.T @ dnet, dnet.sum(axis=0)


def rnn_forward(x, h0, Wx, Wh, b):
    h, caches, states = h0, [], []
    for t in range(x.shape[1]):
        h, cache = rnn_step_forward(x[:, t], h, Wx, Wh, b)
        states.append(h)
        caches.append(cache)
    return np.stack(states, axis=1), caches


def rnn_backward(dh, caches):
    dx, dh_next = np.zeros(dh.shape[:2] + (caches[0][0].shape[1],)), np.zeros_like(dh[:, 0])
    dWx, dWh, db = (np.zeros_like(a) for a in (caches[0][2], caches[0][3], caches[0][4][0]))
    for t in reversed(range(dh.shape[1])):
        dx[:, t], dh_next, dwx, dwh, dbt = rnn_step_backward(dh[:, t] + dh_next, caches[t])
        dWx, dWh, db = dWx + dwx, dWh + dwh, db + dbt
    return dx, dh_next, dWx, dWh, db


# What refbp needs to know: 9 lines.
REFBP_LAYERS = {
    "preset": "cs231n",
    "layers": {
        "affine": ("affine_forward", "affine_backward"),
        "relu": ("relu_forward", "relu_backward"),
        "sigmoid": ("sigmoid_forward", "sigmoid_backward"),
        "tanh": ("tanh_forward", "tanh_backward"),
        "softmax_cross_entropy": "softmax_loss",
        "rnn_step": ("rnn_step_forward", "rnn_step_backward"),
        "rnn": ("rnn_forward", "rnn_backward"),
    },
}
