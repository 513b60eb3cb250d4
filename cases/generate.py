"""Expansion of generated parameters and data (`{"init": ...}`, `{"random": ...}`).

refbp's own generator: numpy's PCG64 with the case's seed. `refbp cases export` writes the
expanded numbers, so no other implementation ever has to reproduce this generator. The case
loader expands a case's parts with `init_params` and `random_array`; the benchmarks draw
their whole problems with `random_problem`, from the same two.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

INIT_SCHEMES = ("normal", "uniform", "xavier_uniform")
DISTRIBUTIONS = ("normal", "uniform", "classes", "simplex")


def init_params(shapes: dict[str, tuple[int, ...]], scheme: str, seed: int, scale: float) -> dict[str, np.ndarray]:
    """Draw every parameter in the canonical order of `shapes` from one stream.

    normal: N(0, scale^2); uniform: U(-scale, scale); xavier_uniform: weights
    U(-a, a) with a = scale * sqrt(6 / (fan_in + fan_out)), biases U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    as torch.nn.Linear does. Biases are never zero, so a missing bias term shows.
    """
    rng = np.random.default_rng(seed)
    params: dict[str, np.ndarray] = {}
    fan_in_of: dict[str, int] = {}
    for name, shape in shapes.items():
        if len(shape) == 2:
            fan_in_of[name.rsplit(".", 1)[0]] = shape[1]
    for name, shape in shapes.items():
        if scheme == "normal":
            params[name] = scale * rng.standard_normal(shape)
        elif scheme == "uniform":
            params[name] = rng.uniform(-scale, scale, shape)
        elif scheme == "xavier_uniform":
            if len(shape) == 2:
                bound = scale * math.sqrt(6.0 / (shape[0] + shape[1]))
            else:
                fan_in = _bias_fan_in(name, fan_in_of, shapes)
                bound = 1.0 / math.sqrt(fan_in)
            params[name] = rng.uniform(-bound, bound, shape)
        else:  # validated before
            raise ValueError(f"unknown init scheme {scheme!r}")
    return params


def _bias_fan_in(name: str, fan_in_of: dict[str, int], shapes: dict[str, tuple[int, ...]]) -> int:
    # rnn.bias_ih / rnn.bias_hh pair with weight_ih / weight_hh; layers.i.bias with layers.i.weight.
    prefix, leaf = name.rsplit(".", 1)
    weight = prefix + "." + leaf.replace("bias", "weight")
    if weight in shapes:
        return shapes[weight][1]
    return fan_in_of.get(prefix, 1)


def random_array(spec: dict[str, Any], shape: tuple[int, ...], classes: int | None = None) -> np.ndarray:
    """One array of `shape` from a validated `random` spec.

    normal: N(mean, scale^2); uniform: U(low, high) (default [0, 1)); classes: integers in
    [0, classes) (int64); simplex: rows on the probability simplex (softmax of normals) along
    the last axis.
    """
    rng = np.random.default_rng(spec["seed"])
    distribution = spec["distribution"]
    if distribution == "normal":
        return np.asarray(spec.get("mean", 0.0) + spec.get("scale", 1.0) * rng.standard_normal(shape))
    if distribution == "uniform":
        return rng.uniform(spec.get("low", 0.0), spec.get("high", 1.0), shape)
    if distribution == "classes":
        return rng.integers(0, classes, shape, dtype=np.int64)
    if distribution == "simplex":
        logits = spec.get("scale", 1.0) * rng.standard_normal(shape)
        logits -= logits.max(axis=-1, keepdims=True)
        weights = np.exp(logits)
        return np.asarray(weights / weights.sum(axis=-1, keepdims=True))
    raise ValueError(f"unknown distribution {distribution!r}")


def random_problem(
    shapes: dict[str, tuple[int, ...]],
    input_shape: tuple[int, ...],
    target_shape: tuple[int, ...],
    *,
    targets: str = "normal",
    classes: int | None = None,
    seed: int = 0,
    scheme: str = "xavier_uniform",
    scale: float = 1.0,
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """`(params, inputs, targets)`, float64 numpy arrays (int64 class indices): the parameters of
    `shapes` by `init_params(scheme, seed, scale)`, N(0, 1) inputs (seed + 1), targets of the
    distribution `targets` (seed + 2), as a case with those generated parts would hold them."""
    params = init_params(shapes, scheme, seed, scale)
    inputs = random_array({"seed": seed + 1, "distribution": "normal"}, input_shape)
    drawn = random_array({"seed": seed + 2, "distribution": targets}, target_shape, classes=classes)
    return params, inputs, drawn
