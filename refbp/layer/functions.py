"""The functions one layer may implement, and the library of inputs each is checked on.

A function has named inputs (`x`, `w`, `b`, ...; the losses' targets `y`), a shape for each
from a few sizes, and the inputs whose gradients its backward returns. The library draws, for
every function, batch 1 and batch 4, values of order one, large (sigmoid and tanh saturated),
tiny, and near the relu family's kink (within 1e-3 of 0, never at it: there correct conventions
differ), from a fixed seed; the upstream gradient is random (never all ones, which hides a
transposition; a loss's one number in [0.5, 2], which its gradient is multiplied by).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ACTIVATIONS = ("identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "softmax")
KINKED = ("relu", "leaky_relu", "elu")
LOSSES = ("half_sse", "sse", "mse", "bce", "cross_entropy", "softmax_cross_entropy")
FUNCTIONS = ("affine", *ACTIVATIONS, *LOSSES, "rnn_step", "rnn")
VALUES = {"ordinary": (0.05, 1.0), "large": (5.0, 30.0), "tiny": (1e-9, 1e-7), "near_kink": (1e-5, 1e-3)}
BATCHES = (1, 4)


@dataclass(frozen=True)
class Example:
    """One input set of a function: its label (`affine-b4-ordinary`), inputs and upstream gradient."""

    label: str
    inputs: dict
    upstream: np.ndarray | float


def parameters(function: str) -> tuple[str, ...]:
    """The inputs whose gradients the backward gives, in CS231n's order (dx, dw, db)."""
    if function == "affine":
        return ("x", "w", "b")
    if function == "rnn_step":
        return ("x", "h", "wx", "wh", "b")
    if function == "rnn":
        return ("x", "h0", "wx", "wh", "b")
    return ("x",)


def is_loss(function: str) -> bool:
    return function in LOSSES


def examples(function: str, layout: str = "out_in", seed: int = 0) -> list[Example]:
    """The library of input sets of `function` (weights in `layout`: out_in as torch, in_out as CS231n)."""
    if function not in FUNCTIONS:
        raise ValueError(f"unknown layer function {function!r} (known: {', '.join(FUNCTIONS)})")
    found = []
    for batch in BATCHES:
        for values in VALUES:
            if values == "near_kink" and function not in KINKED + ("affine",):
                continue
            if values == "large" and function in ("bce", "rnn", "rnn_step"):
                continue  # bce's inputs are probabilities; a large recurrence is tanh at +-1 throughout
            rng = np.random.default_rng([seed, batch, len(values), FUNCTIONS.index(function)])
            inputs = _inputs(function, batch, values, layout, rng)
            upstream = _upstream(function, inputs, layout, rng)
            found.append(Example(f"{function}-b{batch}-{values}", inputs, upstream))
    return found


def _signed(rng, shape, values: str) -> np.ndarray:
    low, high = VALUES[values]
    return rng.uniform(low, high, shape) * rng.choice([-1.0, 1.0], shape)


def _inputs(function: str, batch: int, values: str, layout: str, rng) -> dict:
    d, m, h, t = 3, 4, 3, 3

    def weight(n_in, n_out):
        scaled = rng.normal(0.0, 1.0 / np.sqrt(n_in), (n_out, n_in))
        return scaled if layout == "out_in" else scaled.T.copy()

    if function == "affine":
        if values == "near_kink":  # nets within 1e-3 of 0: what feeds a relu there
            return {
                "x": _signed(rng, (batch, d), "ordinary"),
                "w": weight(d, m) * 1e-3,
                "b": _signed(rng, (m,), values),
            }
        return {"x": _signed(rng, (batch, d), values), "w": weight(d, m), "b": _signed(rng, (m,), "ordinary")}
    if function in ACTIVATIONS:
        return {"x": _signed(rng, (batch, m), values)}
    if function == "bce":
        return {"x": rng.uniform(0.05, 0.95, (batch, m)), "y": rng.uniform(0.0, 1.0, (batch, m))}
    if function in ("cross_entropy", "softmax_cross_entropy"):
        return {"x": _signed(rng, (batch, m), values), "y": rng.integers(0, m, batch).astype(np.int64)}
    if function in LOSSES:
        return {"x": _signed(rng, (batch, m), values), "y": _signed(rng, (batch, m), "ordinary")}
    states = {
        "x": _signed(rng, (batch, d) if function == "rnn_step" else (batch, t, d), values),
        "wx": weight(d, h),
        "wh": weight(h, h),
        "b": _signed(rng, (h,), "ordinary"),
    }
    states["h" if function == "rnn_step" else "h0"] = _signed(rng, (batch, h), "ordinary")
    return states


def _upstream(function: str, inputs: dict, layout: str, rng) -> np.ndarray | float:
    """dL/d(output), random: a loss's one number (its gradient is upstream x dloss/dx), else normal."""
    x = inputs["x"]
    if is_loss(function):
        return float(rng.uniform(0.5, 2.0))
    if function == "affine":
        width = inputs["w"].shape[0 if layout == "out_in" else 1]
        return rng.normal(0.0, 1.0, (x.shape[0], width))
    if function == "rnn_step":
        return rng.normal(0.0, 1.0, inputs["h"].shape)
    if function == "rnn":
        return rng.normal(0.0, 1.0, x.shape[:2] + (inputs["h0"].shape[1],))
    return rng.normal(0.0, 1.0, x.shape)
