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
    """Mean binary cross-entropy of probabilities, as torch.nn.BCELoss(): each log clamped at -100.

    The value and the gradient are one definition, `clamped_logs`: the gradient is the exact
    derivative of the clamped value (t / y where log y is above the floor, 0 where it is
    clamped; the same for 1 - y), so that refbp's backward agrees with its own forward even
    at a saturated output. torch's BCELoss backward instead floors y (1 - y) at 1e-12, which
    is not the derivative of its forward there (y < 1e-12 or 1 - y < 1e-12): torch and refbp
    differ at such outputs, and finite differences side with refbp.
    """

    name = "bce"
    LOG_FLOOR = -100.0

    @classmethod
    def clamped_logs(cls, xp, outputs):
        """(max(log y, -100), max(log(1 - y), -100), log y above the floor, log(1 - y) above it)."""
        # log 0 = -inf (then clamped) is chosen where y is 0 or 1 rather than computed, so that
        # numpy does not warn of a division by zero on a saturated output.
        ones, minus_inf = xp.ones_like(outputs), xp.full_like(outputs, -math.inf)
        at_0, at_1 = outputs == 0.0, outputs == 1.0
        log_y = xp.where(at_0, minus_inf, xp.log(xp.where(at_0, ones, outputs)))
        log_1my = xp.where(at_1, minus_inf, xp.log(xp.where(at_1, ones, 1.0 - outputs)))
        floor = xp.full_like(outputs, cls.LOG_FLOOR)
        above_y, above_1my = log_y > cls.LOG_FLOOR, log_1my > cls.LOG_FLOOR
        return xp.maximum(log_y, floor), xp.maximum(log_1my, floor), above_y, above_1my

    def value(self, xp, outputs, targets):
        log_y, log_1my, _, _ = self.clamped_logs(xp, outputs)
        return -xp.sum(targets * log_y + (1.0 - targets) * log_1my) / math.prod(outputs.shape)

    def gradient(self, xp, outputs, targets):
        # d/dy of the value: -t / y + (1 - t) / (1 - y), each term 0 where its log is clamped
        # (the divisions are taken only there, so a clamped 0 or 1 divides by 1, not by 0).
        _, _, above_y, above_1my = self.clamped_logs(xp, outputs)
        ones, zeros = xp.ones_like(outputs), xp.zeros_like(outputs)
        from_y = xp.where(above_y, targets / xp.where(above_y, outputs, ones), zeros)
        from_1my = xp.where(above_1my, (1.0 - targets) / xp.where(above_1my, 1.0 - outputs, ones), zeros)
        return (from_1my - from_y) / math.prod(outputs.shape)


LOSSES: dict[str, Loss] = {loss.name: loss for loss in (HalfSSE(), SSE(), MSE(), CrossEntropy(), BCE())}


def get(name: str) -> Loss:
    return LOSSES[name]
