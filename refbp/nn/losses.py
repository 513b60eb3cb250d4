"""Losses as the spec defines them, each beside its gradient with respect to the outputs.

`value(xp, outputs, targets)` returns a 0-d array; `gradient(xp, outputs, targets)` returns
dL/doutputs, the upstream gradient that the backward pass starts from. Outputs have the
class (or output) axis last; every leading axis (batch, and time for an RNN) counts as
examples for the means.
"""

from __future__ import annotations

import math


def _examples(outputs) -> int:
    return math.prod(outputs.shape[:-1])


class Loss:
    name = ""

    def value(self, xp, outputs, targets):
        raise NotImplementedError

    def gradient(self, xp, outputs, targets):
        raise NotImplementedError


class HalfSSE(Loss):
    """The seed's E = sum 1/2 (t - y)^2, summed over batch (and time) too."""

    name = "half_sse"

    def value(self, xp, outputs, targets):
        diff = targets - outputs
        return 0.5 * xp.sum(diff * diff)

    def gradient(self, xp, outputs, targets):
        return outputs - targets


class SSE(Loss):
    name = "sse"

    def value(self, xp, outputs, targets):
        diff = targets - outputs
        return xp.sum(diff * diff)

    def gradient(self, xp, outputs, targets):
        return 2.0 * (outputs - targets)


class MSE(Loss):
    """Mean over all elements, as torch.nn.MSELoss()."""

    name = "mse"

    def value(self, xp, outputs, targets):
        diff = targets - outputs
        return xp.sum(diff * diff) / math.prod(outputs.shape)

    def gradient(self, xp, outputs, targets):
        return 2.0 * (outputs - targets) / math.prod(outputs.shape)


class CrossEntropy(Loss):
    """Softmax + negative log-likelihood on logits, mean over examples.

    Targets are class indices (integer array, one axis fewer than the logits) or
    probabilities (same shape as the logits), as torch.nn.CrossEntropyLoss().
    """

    name = "cross_entropy"

    @staticmethod
    def log_softmax(xp, logits):
        shifted = logits - xp.max(logits, axis=-1, keepdims=True)
        return shifted - xp.log(xp.sum(xp.exp(shifted), axis=-1, keepdims=True))

    @staticmethod
    def probabilities(xp, logits, targets):
        if targets.ndim == logits.ndim:
            return targets
        classes = xp.arange(logits.shape[-1], device=logits.device)
        return xp.astype(targets[..., None] == classes, logits.dtype)

    def value(self, xp, outputs, targets):
        p = self.probabilities(xp, outputs, targets)
        return -xp.sum(p * self.log_softmax(xp, outputs)) / _examples(outputs)

    def gradient(self, xp, outputs, targets):
        p = self.probabilities(xp, outputs, targets)
        softmax = xp.exp(self.log_softmax(xp, outputs))
        # d/dz of -sum_c p_c log softmax_c(z) = softmax * sum(p) - p (sum(p) = 1 for a distribution).
        return (softmax * xp.sum(p, axis=-1, keepdims=True) - p) / _examples(outputs)


class BCE(Loss):
    """Mean binary cross-entropy of probabilities, as torch.nn.BCELoss() (logs clamped at -100)."""

    name = "bce"
    LOG_FLOOR = -100.0
    # torch clamps y(1-y) from below by 1e-12 in the backward pass; so do we, so that a
    # saturated output gives a large finite gradient rather than a division by zero.
    DENOMINATOR_FLOOR = 1e-12

    def value(self, xp, outputs, targets):
        log_y = xp.maximum(xp.log(outputs), xp.full_like(outputs, self.LOG_FLOOR))
        log_1my = xp.maximum(xp.log(1.0 - outputs), xp.full_like(outputs, self.LOG_FLOOR))
        return -xp.sum(targets * log_y + (1.0 - targets) * log_1my) / math.prod(outputs.shape)

    def gradient(self, xp, outputs, targets):
        denominator = xp.maximum(outputs * (1.0 - outputs), xp.full_like(outputs, self.DENOMINATOR_FLOOR))
        return (outputs - targets) / denominator / math.prod(outputs.shape)


LOSSES: dict[str, Loss] = {loss.name: loss for loss in (HalfSSE(), SSE(), MSE(), CrossEntropy(), BCE())}


def get(name: str) -> Loss:
    return LOSSES[name]
