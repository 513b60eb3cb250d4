"""refbp's activations written over their input, for the perturbed networks' work arrays,
keyed by activation name (refbp.names); numpy only.

Each gives refbp.nn's own `forward` to the last bit (tests/test_perturbed_forms.py): a fresh
array of a few hundred KiB per call would cost page faults (see docs/performance.md), so
the hot path activates its work arrays in place where the activation has such a form.
The sigmoid also comes in two halves, e^-net and 1 / (1 + u) from u = e^-net, because the
hot path gets u for a slightly moved net as e^-net times a short series in e^-change,
without an exp (refbp.perturbed.series_paths).
"""

from __future__ import annotations

import numpy as np

from refbp.nn import activations

SIGMOID_EXP_LIMIT = activations.Sigmoid.EXP_LIMIT


def exp_of_negated_net(net: np.ndarray) -> np.ndarray:
    """e^-net, with -net clipped as refbp's sigmoid clips it, written over a float `net`."""
    limit = SIGMOID_EXP_LIMIT["float32" if net.dtype == np.float32 else "float64"]
    np.negative(net, out=net)
    # The clip is the costliest pass and rarely needed.
    if net.size and net.max() > limit:
        np.minimum(net, limit, out=net)
    return np.exp(net, out=net)


def sigmoid_of_exp(u: np.ndarray) -> np.ndarray:
    """The sigmoid 1 / (1 + u) from u = e^-net, written over `u`."""
    u += 1.0
    return np.divide(1.0, u, out=u)


# For every dtype (real, or complex for the complex step).
_ANY_DTYPE = {
    "identity": lambda net: net,
    "tanh": lambda net: np.tanh(net, out=net),
}
# For real floats only: the complex step's sigmoid is its analytic replacement (refbp.perturbed.analytic).
IN_PLACE = {
    **_ANY_DTYPE,
    "sigmoid": lambda net: sigmoid_of_exp(exp_of_negated_net(net)),
    "relu": lambda net: np.maximum(net, 0.0, out=net),
}


def activate_in_place(activation, net: np.ndarray) -> np.ndarray:
    """`activation.forward(np, net)` written over `net` where the activation (by name) has such
    a form for net's dtype; else the activation's own forward, in a new array."""
    in_place = (IN_PLACE if net.dtype.kind == "f" else _ANY_DTYPE).get(activation.name)
    if in_place is None:
        return activation.forward(np, net)
    return in_place(net)
