"""The `expected` part of a case: published numbers, checked against the network's shapes.

The schema has checked the structure (and allows fields this reader does not use, such as
`decimals`); here the names and shapes of the published tensors are checked. NaN (null in
the file) marks an entry the source does not print.
"""

from __future__ import annotations

from .arrays import to_array
from .jsonio import CaseError
from .model import Expected, RNNNetwork, Tolerance


def parse_expected(spec: dict, network, batch: int, steps, train, path) -> Expected:
    if train is None:
        for key in ("params_after", "loss_after"):
            if spec.get(key) is not None:
                raise CaseError(path, f"expected.{key}", "a case without train has no values after training")
    shapes = network.param_shapes()
    if isinstance(network, RNNNetwork):
        inter_shapes = network.intermediate_shapes(batch, steps)
        out_shape = inter_shapes["readout.out"]
    else:
        inter_shapes = network.intermediate_shapes(batch)
        out_shape = inter_shapes[f"layers.{network.depth - 1}.out"]

    def tensors(key, known):
        result = {}
        for name, array in (spec.get(key) or {}).items():
            if name not in known:
                raise CaseError(path, f"expected.{key}.{name}", f"unknown tensor (known: {', '.join(known)})")
            if array is not None:
                result[name] = to_array(array, path, f"expected.{key}.{name}", shape=known[name])
        return result

    def scalar(key):
        return None if spec.get(key) is None else float(spec[key])

    outputs = spec.get("outputs")
    return Expected(
        tolerance=Tolerance(**spec["tolerance"]),
        loss=scalar("loss"),
        outputs=None if outputs is None else to_array(outputs, path, "expected.outputs", shape=out_shape),
        intermediates=tensors("intermediates", inter_shapes),
        grads=tensors("grads", shapes),
        params_after=tensors("params_after", shapes),
        loss_after=scalar("loss_after"),
    )
