"""refbp's losses for a stack of networks at once, keyed by loss name (refbp.names); numpy only.

`loss_values(loss, outputs, targets)`: one loss per leading stack entry of `outputs`
[S, *one network's outputs], each refbp.nn's `loss.value` to rounding
(tests/test_perturbed_forms.py). `loss_values_in_place` may overwrite `outputs` (the hot
path's work array, where fresh temporaries cost page faults): the sums of squares become one
dot product per network, the cross-entropy's sums over classes and the bce's sums against the
targets products, in another order of additions (a few ulps apart).
"""

from __future__ import annotations

import math

import numpy as np

from refbp.nn import losses

from .workspace import work_array


def _per_stack(terms):
    """Sum over every axis but the first: one value per member of the leading stack."""
    return np.sum(terms.reshape(terms.shape[0], -1), axis=1)


def _squares(outputs, targets):
    diff = targets - outputs
    return _per_stack(diff * diff)


def _cross_entropy(outputs, targets):
    p = losses.CrossEntropy.probabilities(np, outputs[0], targets)
    return -_per_stack(p * losses.CrossEntropy.log_softmax(np, outputs)) / math.prod(outputs.shape[1:-1])


def _bce(outputs, targets):
    log_y, log_1my, _, _ = losses.BCE.clamped_logs(np, outputs)
    return -_per_stack(targets * log_y + (1.0 - targets) * log_1my) / math.prod(outputs.shape[1:])


PER_STACK = {
    "half_sse": lambda outputs, targets: 0.5 * _squares(outputs, targets),
    "sse": _squares,
    "mse": lambda outputs, targets: _squares(outputs, targets) / math.prod(outputs.shape[1:]),
    "cross_entropy": _cross_entropy,
    "bce": _bce,
}


def _squares_in_place(outputs, targets):
    """Per stack entry, the sum of (targets - outputs)^2, with y - t written over outputs
    ((y - t)^2 == (t - y)^2): one dot product per entry, half the time of squaring and then
    summing."""
    difference = np.subtract(outputs, targets, out=outputs).reshape(outputs.shape[0], -1)
    if np.iscomplexobj(difference):  # vecdot conjugates its first argument: |d|^2, not d^2 (the complex step)
        return np.sum(np.square(difference, out=difference), axis=1)
    return np.vecdot(difference, difference)


# Past this, e^(logit - shift) may overflow: the cross-entropy takes refbp's own per-stack form.
LARGEST_SHIFTED_LOGIT = 700.0


def _cross_entropy_in_place(outputs, targets):
    """refbp's cross-entropy (mean over examples of -sum_c p_c log softmax_c) of every stack
    entry, with the log-softmax's reductions over the few classes as products (a reduction
    along a short last axis costs numpy a loop per row): -sum p log softmax =
    sum_b (sum_c p_bc) log sum_c e^(z_bc - m_b) - sum_bc p_bc (z_bc - m_b). The shift m_b is the
    first entry's largest logit of example b, not each entry's own: the entries differ by
    small perturbations, and any shift gives the same value to rounding; where the shifted
    logits could overflow, refbp's own form instead."""
    if np.iscomplexobj(outputs) or outputs.ndim != 3:
        return _cross_entropy(outputs, targets)
    shift = np.max(outputs[0], axis=-1, keepdims=True)  # [B, 1]
    if not float(np.max(outputs, initial=-np.inf)) - float(np.min(shift, initial=np.inf)) <= LARGEST_SHIFTED_LOGIT:
        return _cross_entropy(outputs, targets)
    count, batch, classes = outputs.shape
    p = losses.CrossEntropy.probabilities(np, outputs[0], targets).astype(outputs.dtype, copy=False)  # [B, C]
    outputs -= shift
    weighted = outputs.reshape(count, -1) @ p.reshape(-1)  # sum_bc p_bc (z_bc - m_b), per entry
    np.exp(outputs, out=outputs)
    log_total = np.log(outputs.reshape(-1, classes) @ np.ones(classes)).reshape(count, batch)
    return (log_total @ p.sum(axis=-1) - weighted) / batch


def _bce_in_place(outputs, targets):
    """refbp's bce of every stack entry: the same clamped logs (log y written over `outputs`,
    log(1 - y) over a work array), summed against the targets by products."""
    if np.iscomplexobj(outputs):
        return _bce(outputs, targets)
    count = outputs.shape[0]
    log_y = outputs.reshape(count, -1)
    weights = np.broadcast_to(np.asarray(targets, dtype=np.float64), outputs.shape[1:]).reshape(-1)
    log_1my = np.subtract(1.0, log_y, out=work_array("bce log(1 - y)", log_y.shape, log_y.dtype))
    floor = losses.BCE.LOG_FLOOR
    with np.errstate(divide="ignore"):  # log 0 = -inf, then clamped: the value BCE.clamped_logs chooses there
        np.maximum(np.log(log_1my, out=log_1my), floor, out=log_1my)
        np.maximum(np.log(log_y, out=log_y), floor, out=log_y)
    return -(log_y @ weights + log_1my @ (1.0 - weights)) / math.prod(outputs.shape[1:])


IN_PLACE = {
    "bce": _bce_in_place,
    "cross_entropy": _cross_entropy_in_place,
    "half_sse": lambda outputs, targets: 0.5 * _squares_in_place(outputs, targets),
    "sse": _squares_in_place,
    "mse": lambda outputs, targets: _squares_in_place(outputs, targets) / math.prod(outputs.shape[1:]),
}


def loss_values(loss, outputs, targets) -> np.ndarray:
    """Loss `loss` (by name) of every network of the stack `outputs`."""
    return PER_STACK[loss.name](outputs, targets)


def loss_values_in_place(loss, outputs, targets) -> np.ndarray:
    """`loss_values`, free to overwrite `outputs`."""
    in_place = IN_PLACE.get(loss.name)
    return PER_STACK[loss.name](outputs, targets) if in_place is None else in_place(outputs, targets)
