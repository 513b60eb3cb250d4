"""Mutants of refbp.nn that compute exactly what the original computes, or another admissible
convention where correct implementations may differ (docs/formats.md 4.2: the suite passes every
such convention by design), each with the reason.

Keyed by `Mutant.key` (module.function: `before` -> `after`, #n for the n-th same edit in
the function). `refbp mutate` reports a listed mutant that the suite kills: then it was
not equivalent, and the entry must go.
"""

from __future__ import annotations

_ZERO_TERM = (
    "`0.0 * net` is +-0 for every finite net; it is there only to give the constant the array's "
    "shape and dtype, which numpy's where broadcasts from a Python float anyway (a Python float "
    "takes the array's dtype): adding, subtracting or dropping it, or writing the constant alone, "
    "gives the same numbers"
)
_TRUE_BRANCH = (
    "the true branch of where(net > 0, ...) is used only where net > 0, so net is non-zero and finite "
    "there and 0.0 / net is +-0 like 0.0 * net (the other entries are computed and discarded)"
)
_NUMPY_RESHAPE = (
    "numpy's reshape takes any negative size as the one size to infer, so -2 is -1 (the suite runs refbp on numpy)"
)

_RIGHT_SLOPE = (
    "at net = 0 exactly the slope becomes 1, the right derivative: an admissible convention "
    "(relu'(0) and leaky_relu'(0) may be anything in [left slope, 1], docs/formats.md 4.2), which the "
    "suite passes and names; elsewhere the same numbers"
)

_WIDE_ADAM = (
    "the test picks the precision Adam's step is computed in: float32 for float16 and bfloat16 (torch's "
    "fused Adam), the parameter's own otherwise; the mutant also picks float32 for a float32 parameter, "
    "which is its own: the same conversions (to the same dtype) and the same numbers"
)

EQUIVALENT: dict[str, str] = {
    "activations.ReLU.backward: `net > 0` -> `(net >= 0)`": _RIGHT_SLOPE,
    "activations.LeakyReLU.derivative: `net > 0` -> `(net >= 0)`": _RIGHT_SLOPE,
    "activations.LeakyReLU.derivative: `1.0 + 0.0 * net` -> `(1.0 - 0.0 * net)`": _ZERO_TERM,
    "activations.LeakyReLU.derivative: `1.0 + 0.0 * net` -> `1.0`": _ZERO_TERM,
    "activations.LeakyReLU.derivative: `self.slope + 0.0 * net` -> `(self.slope - 0.0 * net)`": _ZERO_TERM,
    "activations.LeakyReLU.derivative: `self.slope + 0.0 * net` -> `self.slope`": _ZERO_TERM,
    "activations.LeakyReLU.derivative: `0.0 * net` -> `0.0`": _ZERO_TERM,
    "activations.LeakyReLU.derivative: `0.0 * net` -> `0.0` #1": _ZERO_TERM,
    "activations.LeakyReLU.derivative: `0.0 * net` -> `(0.0 / net)`": _TRUE_BRANCH,
    "activations.ELU.derivative: `1.0 + 0.0 * net` -> `(1.0 - 0.0 * net)`": _ZERO_TERM,
    "activations.ELU.derivative: `1.0 + 0.0 * net` -> `1.0`": _ZERO_TERM,
    "activations.ELU.derivative: `0.0 * net` -> `0.0`": _ZERO_TERM,
    "activations.ELU.derivative: `0.0 * net` -> `(0.0 / net)`": _TRUE_BRANCH,
    "activations.ELU.derivative: `net > 0` -> `(net >= 0)`": (
        "at net = 0 the other branch gives out + 1 = expm1(0) + 1 = 1, the same slope: elu with alpha 1 is "
        "continuously differentiable at 0 (torch's slope there is 1 too)"
    ),
    "dense.backward: `1` -> `2`": _NUMPY_RESHAPE,
    "dense.backward: `1` -> `2` #2": _NUMPY_RESHAPE,
    "dense.backward: `1` -> `0` #4": (
        "`flat_x.shape[0] == 0` is never true, so every batch takes the matrix product; for one example that "
        "product has an inner size of 1, one multiplication per entry, the same numbers as the broadcast outer "
        "product the original uses there for speed"
    ),
    "optim.Adam.step: `xp.finfo(dtype).bits < 32` -> `(xp.finfo(dtype).bits <= 32)`": _WIDE_ADAM,
    "optim.Adam.step: `32` -> `33`": _WIDE_ADAM,
    "runner.train: `first_grads is not None` -> `(first_grads is None)`": (
        "the first step then takes the gradients at the initial parameters again instead of reusing the ones "
        "compute_trace already took there: the same computation on the same numbers, done twice"
    ),
    "mlp.MLP.backward: `i > 0` -> `(i >= 0)`": (
        "it only asks the first layer for dL/dx as well, which the backward then returns only when the input "
        "gradient was asked for (need_input_grads): no gradient changes, only work is added"
    ),
}
