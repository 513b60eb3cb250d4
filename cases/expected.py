"""The `expected` part of a case: published numbers, checked against the network's shapes.

The schema has checked the structure; here the names and shapes of the published tensors
are checked, and `decimals` (how many decimals each value was printed with) is matched to
them. NaN (null in the file) marks an entry the source does not print.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from .arrays import index_text, to_array
from .jsonio import CaseError
from .model import Expected, MLPNetwork, RNNNetwork, Tolerance, Train


def parse_expected(
    spec: dict[str, Any],
    network: MLPNetwork | RNNNetwork,
    batch: int,
    steps: int | None,
    train: Train | None,
    path: str | Path | None,
) -> Expected:
    if train is None:
        for key in ("params_after", "loss_after"):
            if spec.get(key) is not None:
                raise CaseError(path, f"expected.{key}", "a case without train has no values after training")
    shapes = network.param_shapes()
    if isinstance(network, RNNNetwork):
        assert steps is not None  # an RNN's inputs give the time steps
        inter_shapes = network.intermediate_shapes(batch, steps)
        out_shape = inter_shapes["readout.out"]
    else:
        inter_shapes = network.intermediate_shapes(batch)
        out_shape = inter_shapes[f"layers.{network.depth - 1}.out"]

    def tensors(key: str, known: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
        result = {}
        for name, array in (spec.get(key) or {}).items():
            if name not in known:
                raise CaseError(path, f"expected.{key}.{name}", f"unknown tensor (known: {', '.join(known)})")
            if array is not None:
                result[name] = to_array(array, path, f"expected.{key}.{name}", shape=known[name])
        return result

    def scalar(key: str) -> float | None:
        return None if spec.get(key) is None else float(spec[key])

    outputs = spec.get("outputs")
    expected = Expected(
        tolerance=Tolerance(**spec["tolerance"]),
        loss=scalar("loss"),
        outputs=None if outputs is None else to_array(outputs, path, "expected.outputs", shape=out_shape),
        intermediates=tensors("intermediates", inter_shapes),
        grads=tensors("grads", shapes),
        params_after=tensors("params_after", shapes),
        loss_after=scalar("loss_after"),
    )
    return replace(expected, decimals=printed_decimals(spec.get("decimals") or {}, expected, path))


MAX_DECIMALS = 30  # printed digits after the point (the schema's bound too)


def printed_values(expected: Expected) -> dict[str, Any]:
    """The published values of `expected` by the keys of `expected.decimals`: "loss",
    "outputs", "loss_after", and "<quantity>.<tensor>" such as "grads.layers.0.weight"."""
    values = {
        key: getattr(expected, key) for key in ("loss", "outputs", "loss_after") if getattr(expected, key) is not None
    }
    for quantity in ("intermediates", "grads", "params_after"):
        for name, array in getattr(expected, quantity).items():
            values[f"{quantity}.{name}"] = array
    return values


def printed_decimals(spec: dict[str, Any], expected: Expected, path: str | Path | None) -> dict[str, np.ndarray]:
    """`expected.decimals` as arrays of the published values' shapes (NaN: judged by the tolerance)."""
    printed = printed_values(expected)
    result = {}
    for key, decimals in spec.items():
        field = f"expected.decimals.{key}"
        if key not in printed:
            raise CaseError(
                path, field, f"names no published value of this case (known: {', '.join(printed) or 'none'})"
            )
        shape = np.shape(printed[key])
        if isinstance(decimals, list):
            array = to_array(decimals, path, field, shape=shape)
        else:
            array = np.full(shape, float(decimals))
        bad = ~np.isnan(array) & ((array != np.round(array)) | (array < 0) | (array > MAX_DECIMALS))
        if bad.any():
            raise CaseError(
                path,
                field + index_text(np.argwhere(bad)[0]),
                f"must be a whole number of decimals in [0, {MAX_DECIMALS}]",
            )
        result[key] = array
    return result
