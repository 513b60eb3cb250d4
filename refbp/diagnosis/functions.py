"""Activations and losses in plain float64 numpy, with their derivatives and their classic wrong derivatives.

Written again from the definitions (torch.nn's conventions: BCE's logs clamped at -100 and its
backward's 1e-12 floor, softplus linear above 20, cross-entropy's mean over examples), never
taken from refbp.nn: these are references for the diagnosis, and a reference never reuses the
code it checks.
"""

from __future__ import annotations

import numpy as np


def sigmoid(x):
    return np.where(x >= 0, 1.0 / (1.0 + np.exp(-np.abs(x))), np.exp(-np.abs(x)) / (1.0 + np.exp(-np.abs(x))))


def softmax(x):
    shifted = np.exp(x - x.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def activate(name: str, net):
    if name == "identity":
        return net.copy()
    if name == "sigmoid":
        return sigmoid(net)
    if name == "tanh":
        return np.tanh(net)
    if name == "relu":
        return np.maximum(net, 0.0)
    if name == "leaky_relu":
        return np.where(net > 0, net, 0.01 * net)
    if name == "elu":
        return np.where(net > 0, net, np.expm1(np.minimum(net, 0.0)))
    if name == "softplus":
        return np.where(net > 20, net, np.log1p(np.exp(np.minimum(net, 20.0))))
    if name == "softmax":
        return softmax(net)
    raise ValueError(f"unknown activation {name!r}")


def activation_backward(name: str, net, out, grad_out, bug: str = ""):
    """dL/dnet from dL/dout; `bug` one of Variant.activation's slips (ignored where it does not apply)."""
    if name == "softmax":
        if bug == "softmax-elementwise":
            return grad_out * out * (1.0 - out)
        return out * (grad_out - np.sum(grad_out * out, axis=-1, keepdims=True))
    return grad_out * slope(name, net, out, bug)


def slope(name: str, net, out, bug: str = ""):
    """dout/dnet of an elementwise activation."""
    if name == "identity":
        return np.ones_like(net)
    if name == "sigmoid":
        if bug == "sigmoid-twice":
            again = sigmoid(out)
            return again * (1.0 - again)
        if bug == "sigmoid-on-net":
            return net * (1.0 - net)
        return out * (1.0 - out)
    if name == "tanh":
        return 1.0 - (net if bug == "tanh-on-net" else out) ** 2
    if name == "relu":
        return (net > 0).astype(np.float64)
    if name == "leaky_relu":
        return np.where(net > 0, 1.0, 0.01)
    if name == "elu":
        return np.where(net > 0, 1.0, out + 1.0)
    if name == "softplus":
        return np.where(net > 20, 1.0, sigmoid(net))
    raise ValueError(f"unknown activation {name!r}")


def _examples(outputs, targets):
    """Cross-entropy's view: outputs [N, C] and targets as probabilities [N, C]."""
    classes = outputs.shape[-1]
    flat = outputs.reshape(-1, classes)
    if targets.dtype.kind == "i":
        probabilities = np.zeros_like(flat)
        probabilities[np.arange(flat.shape[0]), targets.reshape(-1)] = 1.0
    else:
        probabilities = targets.reshape(-1, classes).astype(np.float64)
    return flat, probabilities


def loss_value(name: str, outputs, targets) -> float:
    if name == "half_sse":
        return float(0.5 * np.sum((outputs - targets) ** 2))
    if name == "sse":
        return float(np.sum((outputs - targets) ** 2))
    if name == "mse":
        return float(np.mean((outputs - targets) ** 2))
    if name == "bce":
        with np.errstate(divide="ignore"):
            logs = targets * np.maximum(np.log(outputs), -100) + (1 - targets) * np.maximum(np.log1p(-outputs), -100)
        return float(-np.mean(logs))
    if name == "cross_entropy":
        flat, probabilities = _examples(outputs, targets)
        shifted = flat - flat.max(axis=-1, keepdims=True)
        log_softmax = shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))
        return float(-np.sum(probabilities * log_softmax) / flat.shape[0])
    raise ValueError(f"unknown loss {name!r}")


def loss_gradient(name: str, outputs, targets, bug: str = ""):
    """dL/doutputs; `bug` one of Variant.loss's slips (ignored where it does not apply)."""
    gradient = _loss_gradient(name, outputs, targets, bug)
    if bug == "summed":  # a mean loss summed instead: the 1/count of its mean left out
        return gradient * _mean_count(name, outputs)
    if bug == "summed-examples":  # bce's mean over the values of an example kept, the batch's mean left out
        return gradient * (outputs.size // outputs.shape[-1])
    if bug == "averaged-examples":  # a summed loss divided by the examples (B, or B T for an RNN)
        return gradient / (outputs.size // outputs.shape[-1])
    if bug == "averaged-values":  # a summed loss divided by every value of the output
        return gradient / outputs.size
    return gradient


def _mean_count(name: str, outputs) -> int:
    """How many terms the mean of a mean loss is over: examples for cross_entropy, values otherwise."""
    return outputs.size // outputs.shape[-1] if name == "cross_entropy" else outputs.size


def _loss_gradient(name: str, outputs, targets, bug: str = ""):
    if name == "half_sse":
        return outputs - targets
    if name == "sse":
        return 2.0 * (outputs - targets)
    if name == "mse":
        return 2.0 * (outputs - targets) / (1.0 if bug == "mse-without-mean" else outputs.size)
    if name == "bce":
        if bug == "bce-on-logits":  # the outputs, already probabilities, taken as logits
            return (sigmoid(outputs) - targets) / outputs.size
        if bug == "bce-shortcut":  # the fused sigmoid + BCE gradient y - t, then the sigmoid's slope again
            return (outputs - targets) / outputs.size
        # The derivative of the clamped value above (as torch differentiates BCELoss's value):
        # each term 0 where its log is clamped at -100.
        with np.errstate(divide="ignore", invalid="ignore"):
            from_y = np.where(np.log(outputs) > -100, targets / outputs, 0.0)
            from_1my = np.where(np.log1p(-outputs) > -100, (1.0 - targets) / (1.0 - outputs), 0.0)
        return (from_1my - from_y) / outputs.size
    if name == "cross_entropy":
        flat, probabilities = _examples(outputs, targets)
        if bug == "probabilities-as-classes" and targets.dtype.kind != "i":  # argmax'ed in the backward
            probabilities = np.eye(flat.shape[-1])[np.argmax(probabilities, axis=-1)]
        predicted = flat if bug == "cross-entropy-without-softmax" else softmax(flat)
        # softmax * sum(p) - p: soft targets may sum to 1 within the loader's allowance, not exactly
        total = probabilities.sum(axis=-1, keepdims=True)
        return ((predicted * total - probabilities) / flat.shape[0]).reshape(outputs.shape)
    raise ValueError(f"unknown loss {name!r}")
