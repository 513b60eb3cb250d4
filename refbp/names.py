"""The one table of names refbp understands, and their properties.

Cases, refbp.nn, oracle, explain and the CLI all read their lists from here, so adding an
activation, a loss or a finite-difference method means adding one row here (and its code
where it computes). This module imports nothing: every layer may read it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ActivationName:
    name: str
    # A non-differentiable point at net = 0 (the relu family): finite differences must not
    # straddle it, and the complex step cannot be used.
    kinked: bool
    # Every part is an analytic function (a complex-step derivative is exact).
    analytic: bool
    # Applied per value (else a Jacobian over the last axis: softmax).
    elementwise: bool
    formula: str
    # The local slope dout/dnet as `refbp explain` prints it (elementwise activations).
    slope: str


ACTIVATIONS: dict[str, ActivationName] = {
    a.name: a
    for a in (
        ActivationName("identity", False, True, True, "out = net", "dout/dnet = 1"),
        ActivationName("sigmoid", False, True, True, "out = 1 / (1 + e^-net)", "dout/dnet = out(1 - out)"),
        ActivationName("tanh", False, True, True, "out = tanh(net)", "dout/dnet = 1 - out^2"),
        ActivationName("relu", True, False, True, "out = max(net, 0)", "dout/dnet = 1 if net > 0 else 0"),
        ActivationName(
            "leaky_relu", True, False, True, "out = net if net > 0 else 0.01 net", "dout/dnet = 1 if net > 0 else 0.01"
        ),
        # C1 with alpha 1, but its second derivative jumps at 0: a central difference across 0
        # loses its O(h^2) accuracy, so it is treated as kinked there.
        ActivationName(
            "elu", True, False, True, "out = net if net > 0 else e^net - 1", "dout/dnet = 1 if net > 0 else out + 1"
        ),
        ActivationName("softplus", False, True, True, "out = log(1 + e^net)", "dout/dnet = sigmoid(net)"),
        ActivationName(
            "softmax",
            False,
            True,
            False,
            "out_i = e^net_i / sum_j e^net_j",
            "dE/dnet = out * (dE/dout - <dE/dout, out>)",
        ),
    )
}
KINKED_ACTIVATIONS = tuple(name for name, a in ACTIVATIONS.items() if a.kinked)
ANALYTIC_ACTIVATIONS = tuple(name for name, a in ACTIVATIONS.items() if a.analytic)


@dataclass(frozen=True)
class LossName:
    name: str
    formula: str
    # Targets as class indices allowed (else: values shaped like the outputs).
    class_targets: bool = False


LOSSES: dict[str, LossName] = {
    loss.name: loss
    for loss in (
        LossName("half_sse", "E = sum 1/2 (t - y)^2 (the seed's)"),
        LossName("sse", "E = sum (t - y)^2"),
        LossName("mse", "E = mean (t - y)^2"),
        LossName("cross_entropy", "E = mean over examples of -sum_c p_c log softmax(y)_c", class_targets=True),
        LossName("bce", "E = mean -(t log y + (1 - t) log(1 - y)), logs clamped at -100"),
    )
}

FD_METHODS: dict[str, str] = {
    "central": "(L(x+h) - L(x-h)) / 2h, 2 evaluations per entry",
    "richardson": "central differences at h, 2h, 4h extrapolated twice (O(h^6)), with a measured error estimate",
    "complex": "Im L(x+ih)/h, machine precision; analytic networks only",
    "directional": "random unit directions u over all parameters, compared with <grad, u>",
    "sampled": "central differences on random entries of each tensor and every bias entry",
}

# float16 and bfloat16 are judged against what torch itself achieves at that precision
# (refbp.check.precision, docs/precision.md).
DTYPES = ("float64", "float32", "float16", "bfloat16")
OPTIMIZERS = ("sgd", "adam")
RNN_NONLINEARITIES = ("tanh", "relu")
RNN_READOUTS = ("every_step", "last_step")
NETWORK_KINDS = ("mlp", "rnn")
