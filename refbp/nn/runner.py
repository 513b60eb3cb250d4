"""Run one case through the hand-written implementation: forward, backward, training.

`compute_trace(case)` is what the checker compares with the references.
`loss_function(case)` is refbp's own forward as a plain `loss(params)` function (float64),
for finite differences: does refbp's backward match refbp's forward? (Their fast forms
live in refbp.perturbed.)
"""

from __future__ import annotations

import time

import numpy as np

from ..trace import Trace
from . import losses, mlp, optim, rnn
from .backend import namespace, to_numpy


def build_model(network):
    # The classes are looked up in their modules at every call (a test may put another in place).
    if network.kind == "mlp":
        return mlp.MLP(network)
    if network.kind == "rnn":
        return rnn.RNN(network)
    raise ValueError(f"unknown network kind {network.kind!r}")


class NumpyPlacement:
    """The default: numpy arrays in this process. Any object with the same two methods
    (`put`, `synchronize`) places the computation elsewhere (refbp.devices: torch tensors)."""

    name = "numpy"

    def put(self, array: np.ndarray, dtype: str):
        return np.ascontiguousarray(array, dtype=np.int64 if array.dtype.kind == "i" else dtype)

    def synchronize(self) -> None:
        pass


NUMPY = NumpyPlacement()


def case_arrays(case, dtype: str, placement=NUMPY):
    """The case's arrays as the placement's arrays of `dtype` (class indices stay integers)."""
    put = placement.put
    params = {name: put(p, dtype) for name, p in case.params.items()}
    h0 = None if case.h0 is None else put(case.h0, dtype)
    return params, put(case.inputs, dtype), put(case.targets, dtype), h0


def compute_trace(case, placement=NUMPY) -> Trace:
    """Forward, backward and training of `case` in its dtype, on the placement's arrays."""
    params, inputs, targets, h0 = case_arrays(case, case.dtype, placement)
    xp = namespace(inputs)
    model = build_model(case.network)
    loss = losses.get(case.loss)
    sync = placement.synchronize

    start = time.perf_counter()
    cache = model.forward(xp, params, inputs, h0)
    loss_value = loss.value(xp, cache.outputs, targets)
    sync()
    forward_s = time.perf_counter() - start

    start = time.perf_counter()
    grad_output = loss.gradient(xp, cache.outputs, targets)
    backward = model.backward(xp, params, cache, grad_output, need_input_grads=True)
    grads = backward.grads
    sync()
    backward_s = time.perf_counter() - start

    trace = Trace(
        outputs=to_numpy(cache.outputs),
        loss=float(loss_value),
        intermediates={k: to_numpy(v) for k, v in model.intermediates(cache).items()},
        grads={k: to_numpy(v) for k, v in grads.items()},
        input_grads={k: to_numpy(v) for k, v in backward.input_grads.items()},
        error_signals={k: to_numpy(v) for k, v in backward.error_signals.items()},
        timings={"forward": forward_s, "backward": backward_s},
    )
    if case.train is not None:
        start = time.perf_counter()
        final = train(xp, model, loss, params, inputs, targets, h0, case.train, first_grads=grads)
        after = model.forward(xp, final, inputs, h0)
        trace.loss_after = float(loss.value(xp, after.outputs, targets))
        sync()
        trace.timings["train"] = time.perf_counter() - start
        trace.params_after = {k: to_numpy(v) for k, v in final.items()}
    return trace


def train(xp, model, loss, params, inputs, targets, h0, config, first_grads=None) -> dict:
    """`config.steps` steps of: forward on the whole batch, every gradient, then one update."""
    optimizer = optim.make(config)
    trainable = [name for name in params if name not in config.frozen]
    for step in range(config.steps):
        if step == 0 and first_grads is not None:
            grads = first_grads  # the gradients at the initial parameters, already taken
        else:
            cache = model.forward(xp, params, inputs, h0)
            grads = model.backward(xp, params, cache, loss.gradient(xp, cache.outputs, targets)).grads
        params = optimizer.step(xp, params, grads, trainable)
    return params


def loss_function(case):
    """refbp's forward as `loss(params) -> float`, in float64 at the case's inputs.

    For a truncated RNN this is still the plain loss: truncation changes the gradient the
    backward computes, not the loss.
    """
    model = build_model(case.network)
    loss = losses.get(case.loss)
    _, inputs, targets, h0 = case_arrays(case, "float64")

    def value(params: dict) -> float:
        return float(loss.value(np, model.forward(np, params, inputs, h0).outputs, targets))

    return value
