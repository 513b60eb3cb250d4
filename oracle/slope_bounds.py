"""The interval every gradient may span when each unit takes its own admissible slope: relu-family
units at their kink, and saturated sigmoid, tanh and elu units (docs/formats.md 4.2).

A correct implementation may take relu'(0) anywhere in [0, 1] (leaky_relu'(0) in [0.01, 1]), and a
net that is 0 in exact arithmetic may round to either side of it, so each unit within the reach of
its net's rounding picks its slope on its own (the uniform choices of refbp.oracle.conventions, all units
left or all right, miss the mixtures). That reach is ROUNDING_ULPS of the net's terms' magnitude in
the case's dtype (a float32 implementation rounds in float32), plus its inputs' reach carried
forward through |W| (_reach). The backward pass is run here once more in interval arithmetic
(centre and radius), from torch's own forward values and dL/dout: an exact slope where a unit is
clear of its kink, the interval [left slope, 1] where it is not. A saturated smooth unit (its output
within SATURATED of its bound) has one derivative, but the slope computed from its rounded output
(y (1 - y), 1 - y^2, y + 1: torch's own backward) and the one computed from its net differ there
far beyond the tolerance (1 - y is known to an ulp of 1 only): such a unit takes any slope between
the two, widened by the rounding of an output a few ulps apart. Interval arithmetic encloses every
mixture (it may overestimate where one unit reaches an answer twice, never underestimate), and
with no unit at a kink its centre is the ordinary backward (tests/test_slope_bounds.py checks it
against autograd). Nothing here imports refbp.nn.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from refbp.cases.dtypes import EPSILON

from .conventions import (
    KINKED_WITH_CHOICE,
    SATURATED,
    bce_ill_conditioned,
    kinked_layers,
    saturated_units,
    saturation_distance,
)
from .torch_functions import case_tensor, loss_value

if TYPE_CHECKING:
    from refbp.cases.model import Case
    from refbp.trace import Trace

# {quantity: {name: (low, high)}}
Bounds = dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]

# A net's own rounding reaches this many epsilons (of the case's dtype) of its terms' magnitude.
ROUNDING_ULPS = 16
LEFT_SLOPE = {"relu": 0.0, "leaky_relu": 0.01}
# Two correct implementations' outputs of a saturated unit may lie this many epsilons (2.2e-16)
# apart (sigmoid as 1 / (1 + e^-z), e^z / (1 + e^z) or (1 + tanh(z / 2)) / 2: two or three
# roundings each, half a spacing of 1.1e-16 below 1 each).
OUTPUT_ULPS = 2


def slope_bounds(
    case: Case, trace: Trace, force: bool = False, kinks: bool = True, bce: str = "value"
) -> Bounds | None:
    """{quantity: {name: (low, high)}} for "grads" and "input_grads" (None when no unit of `case`
    is near its kink or saturated, unless `force`); `trace`: torch's trace of the case
    (intermediates, outputs). `kinks=False`: relu-family units keep torch's slope at their kink
    (`--conventions torch`), saturated units still span their rounding. `bce`: the convention of
    dL/dout at saturated bce outputs (refbp.oracle.torch_functions.loss_value)."""
    near_kink = kinks and _any_kink(case, trace)
    if not force and not near_kink and not saturated_units(case.network, trace.intermediates):
        return None
    # a unit's kink reaches as far as its net's rounding in the case's dtype: a float32
    # implementation's net may be on the other side of 0 than the float64 reference's
    eps = kink_rounding(case.dtype)
    hidden = Spans(kink=kinks, saturated=True, eps=eps)
    # a sigmoid output under ill-conditioned bce: its slope is one of bce's conventions
    # (refbp.oracle.saturated_bce), not rounding to widen here, where dL/dy may reach 1e12
    output = Spans(kink=kinks, saturated=False, eps=eps) if bce_ill_conditioned(case.loss, trace.outputs) else hidden
    upstream = _upstream(case, trace.outputs, bce)
    if case.network.kind == "mlp":
        return _mlp(case, trace, upstream, hidden, output)
    return _rnn(case, trace, upstream, hidden, output)


def _upstream(case: Case, outputs: Any, bce: str) -> np.ndarray:
    out = case_tensor(np.asarray(outputs)).requires_grad_(True)
    loss = loss_value(case.loss, out, case_tensor(case.targets), bce=bce)
    return torch.autograd.grad(loss, out)[0].numpy()


@dataclass(frozen=True)
class Spans:
    """Which units of a layer take an interval of slopes: those at their kink (`kink`, their net
    within the reach of its rounding in a precision of `eps`: _reach), the saturated ones."""

    kink: bool
    saturated: bool
    eps: float


def kink_rounding(dtype: str) -> float:
    """The epsilon a net is rounded with in `dtype` (float64 for the reference's own)."""
    return EPSILON.get(dtype, EPSILON["float64"])


def _slopes(
    activation: str, net: np.ndarray, out: np.ndarray, reach: np.ndarray, spans: Spans
) -> tuple[np.ndarray, np.ndarray] | None:
    """(low, high) slope per unit, or None for softmax (a Jacobian, applied by `_through`)."""
    if activation == "softmax":
        return None
    torchs = _torch_slope(activation, net, out)  # as torch's backward computes it
    if activation in SATURATING and spans.saturated:
        return _saturated(activation, net, out, torchs)
    if activation not in KINKED_WITH_CHOICE or not spans.kink:
        return torchs, torchs
    at_kink = np.abs(net) <= reach  # within the reach of its net's rounding (_reach)
    return np.where(at_kink, LEFT_SLOPE[activation], torchs), np.where(at_kink, 1.0, torchs)


def _saturated(
    activation: str, net: np.ndarray, out: np.ndarray, from_output: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(low, high): between the slope from the rounded output and the one from the net, widened by
    the rounding of the output, at saturated units; the slope from the output elsewhere."""
    from_net, output_sensitivity = SATURATING[activation](net, out)
    saturated = saturation_distance(activation, net) < SATURATED
    widening = OUTPUT_ULPS * np.finfo(np.float64).eps * np.abs(output_sensitivity)
    low = np.minimum(from_output, from_net) - widening
    high = np.maximum(from_output, from_net) + widening
    return np.where(saturated, low, from_output), np.where(saturated, high, from_output)


def _sigmoid_from_net(net: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(net))
    return np.asarray(e / (1.0 + e) ** 2)


def _tanh_from_net(net: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return np.asarray(1.0 / np.cosh(net) ** 2)


# activation: (net, out) -> (its slope from the net, d(slope as computed from the output)/d(output))
SATURATING: dict[str, Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, Any]]] = {
    "sigmoid": lambda net, out: (_sigmoid_from_net(net), 1.0 - 2.0 * out),
    "tanh": lambda net, out: (_tanh_from_net(net), 2.0 * out),
    "elu": lambda net, out: (np.where(net > 0, 1.0, np.exp(np.minimum(net, 0.0))), np.where(net > 0, 0.0, 1.0)),
}


def _torch_slope(activation: str, net: np.ndarray, out: np.ndarray) -> np.ndarray:
    slopes: dict[str, Callable[[], np.ndarray]] = {
        "identity": lambda: np.ones_like(net),
        "sigmoid": lambda: out * (1.0 - out),
        "tanh": lambda: 1.0 - out * out,
        "relu": lambda: (net > 0).astype(np.float64),
        "leaky_relu": lambda: np.where(net > 0, 1.0, 0.01),
        "elu": lambda: np.where(net > 0, 1.0, out + 1.0),
        "softplus": lambda: 1.0 / (1.0 + np.exp(-net)),
    }
    return slopes[activation]()


def _through(
    activation: str,
    net: np.ndarray,
    out: np.ndarray,
    reach: np.ndarray,
    centre: np.ndarray,
    radius: np.ndarray,
    spans: Spans,
) -> tuple[np.ndarray, np.ndarray]:
    """dL/dnet from dL/dout (centre, radius) through the activation; `spans`: which units take
    an interval of slopes."""
    slopes = _slopes(activation, net, out, reach, spans)
    if slopes is None:  # softmax: J = diag(s) - s s^T per example, |J| r for the radius
        inner = np.sum(centre * out, axis=-1, keepdims=True)
        return out * (centre - inner), out * (1.0 - out) * radius + out * np.sum(out * radius, axis=-1, keepdims=True)
    low, high = slopes
    products = np.stack(
        [low * (centre - radius), low * (centre + radius), high * (centre - radius), high * (centre + radius)]
    )
    lo, hi = products.min(axis=0), products.max(axis=0)
    return (lo + hi) / 2.0, (hi - lo) / 2.0


def _reach(inputs_reach: np.ndarray, weight: np.ndarray, magnitude: np.ndarray, eps: float) -> np.ndarray:
    """How far a layer's nets may lie from the reference's: its inputs' reach through |W|, and
    ROUNDING_ULPS of its own terms' magnitude. Every activation is 1-Lipschitz, so a unit's
    output reaches no further than its net: a net that is 0 in exact arithmetic may come out on
    either side of 0, in this layer or, through a unit so placed, in the next."""
    return np.asarray(inputs_reach @ np.abs(weight).T + ROUNDING_ULPS * eps * magnitude)


def _interval(centre: np.ndarray, radius: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return centre - radius, centre + radius


def _mlp(case: Case, trace: Trace, upstream: np.ndarray, hidden: Spans, output: Spans) -> Bounds:
    params, network = case.params, case.network
    assert network.kind == "mlp"
    x = [np.asarray(case.inputs, dtype=np.float64)]
    x += [np.asarray(trace.intermediates[f"layers.{i}.out"]) for i in range(len(network.activations))]
    weights = [np.asarray(params[f"layers.{i}.weight"], dtype=np.float64) for i in range(len(network.activations))]
    # how far each net may lie from the reference's by rounding, its inputs' reach carried forward
    reaches: list[np.ndarray] = []
    carried = np.zeros_like(x[0])
    for i, weight in enumerate(weights):
        magnitude = np.abs(x[i]) @ np.abs(weight).T + (np.abs(params[f"layers.{i}.bias"]) if network.bias else 0.0)
        carried = _reach(carried, weight, magnitude, hidden.eps)
        reaches.append(carried)
    centre, radius = upstream, np.zeros_like(np.asarray(trace.outputs))
    bounds: Bounds = {"grads": {}, "input_grads": {}}
    for i in range(len(network.activations) - 1, -1, -1):
        weight = weights[i]
        net, out = np.asarray(trace.intermediates[f"layers.{i}.net"]), x[i + 1]
        spans = output if i == len(network.activations) - 1 else hidden
        centre, radius = _through(network.activations[i], net, out, reaches[i], centre, radius, spans)
        bounds["grads"][f"layers.{i}.weight"] = _interval(centre.T @ x[i], radius.T @ np.abs(x[i]))
        if network.bias:
            bounds["grads"][f"layers.{i}.bias"] = _interval(centre.sum(axis=0), radius.sum(axis=0))
        centre, radius = centre @ weight, radius @ np.abs(weight)
    bounds["input_grads"]["inputs"] = _interval(centre, radius)
    return bounds


def _any_kink(case: Case, trace: Trace) -> bool:
    """Whether some relu-family unit may be at its kink (a screen; the bounds decide unit by unit):
    in float64 a net within 1e-9 of 0; in a lower precision any relu-family layer, as its rounding
    reaches far (the bounds cost a backward pass in numpy)."""
    kinked = [name for name, activation in kinked_layers(case.network) if activation in KINKED_WITH_CHOICE]
    if kinked and kink_rounding(case.dtype) > EPSILON["float64"]:
        return True
    return any(np.any(np.abs(np.asarray(trace.intermediates[name])) <= 1e-9) for name in kinked)


def _rnn(case: Case, trace: Trace, upstream: np.ndarray, hidden_spans: Spans, output_spans: Spans) -> Bounds:
    network, params = case.network, {k: np.asarray(v, dtype=np.float64) for k, v in case.params.items()}
    assert network.kind == "rnn"
    x = np.asarray(case.inputs, dtype=np.float64)  # [B, T, I]
    nets, states = np.asarray(trace.intermediates["rnn.net"]), np.asarray(trace.intermediates["rnn.h"])
    readout_net, readout_out = np.asarray(trace.intermediates["readout.net"]), np.asarray(trace.outputs)
    batch, steps, hidden = states.shape
    h0 = np.zeros((batch, hidden)) if case.h0 is None else np.asarray(case.h0, dtype=np.float64)
    previous = np.concatenate([h0[:, None, :], states[:, :-1, :]], axis=1)
    w_ih, w_hh, w_o = params["rnn.weight_ih"], params["rnn.weight_hh"], params["readout.weight"]
    grads = {name: [np.zeros_like(p), np.zeros_like(p)] for name, p in params.items()}
    # The readout: dL/dreadout.net, then the readout's gradients and dL/dh from it.
    readin = states if network.readout == "every_step" else states[:, -1, :]
    magnitude = (
        np.abs(x) @ np.abs(w_ih).T
        + np.abs(previous) @ np.abs(w_hh).T
        + (np.abs(params["rnn.bias_ih"]) + np.abs(params["rnn.bias_hh"]) if network.bias else 0.0)
    )
    reach, carried = np.zeros_like(nets), np.zeros((batch, hidden))  # h0 and the inputs are given exactly
    for t in range(steps):
        carried = reach[:, t, :] = _reach(carried, w_hh, magnitude[:, t, :], hidden_spans.eps)
    readout_magnitude = np.abs(readin) @ np.abs(w_o).T + (np.abs(params["readout.bias"]) if network.readout_bias else 0)
    readout_reach = _reach(
        reach if network.readout == "every_step" else reach[:, -1, :], w_o, readout_magnitude, hidden_spans.eps
    )
    c, r = _through(
        network.output_activation,
        readout_net,
        readout_out,
        readout_reach,
        upstream,
        np.zeros_like(readout_out),
        output_spans,
    )
    flat_in = readin.reshape(-1, hidden)
    grads["readout.weight"] = [c.reshape(-1, c.shape[-1]).T @ flat_in, r.reshape(-1, r.shape[-1]).T @ np.abs(flat_in)]
    if network.readout_bias:
        grads["readout.bias"] = [c.reshape(-1, c.shape[-1]).sum(0), r.reshape(-1, r.shape[-1]).sum(0)]
    from_readout_c, from_readout_r = np.zeros_like(states), np.zeros_like(states)
    if network.readout == "every_step":
        from_readout_c, from_readout_r = c @ w_o, r @ np.abs(w_o)
    else:
        from_readout_c[:, -1, :], from_readout_r[:, -1, :] = c @ w_o, r @ np.abs(w_o)
    chunk = network.truncate or steps
    later_c, later_r = np.zeros((batch, hidden)), np.zeros((batch, hidden))
    for t in range(steps - 1, -1, -1):
        if (t + 1) % chunk == 0:  # no gradient crosses a chunk boundary
            later_c, later_r = np.zeros((batch, hidden)), np.zeros((batch, hidden))
        dh_c, dh_r = from_readout_c[:, t, :] + later_c, from_readout_r[:, t, :] + later_r
        dn_c, dn_r = _through(
            network.nonlinearity, nets[:, t, :], states[:, t, :], reach[:, t, :], dh_c, dh_r, hidden_spans
        )
        for name, inputs in (("rnn.weight_ih", x[:, t, :]), ("rnn.weight_hh", previous[:, t, :])):
            grads[name][0] += dn_c.T @ inputs
            grads[name][1] += dn_r.T @ np.abs(inputs)
        if network.bias:
            for name in ("rnn.bias_ih", "rnn.bias_hh"):
                grads[name][0] += dn_c.sum(0)
                grads[name][1] += dn_r.sum(0)
        x_c, x_r = dn_c @ w_ih, dn_r @ np.abs(w_ih)
        grads.setdefault("_inputs", [np.zeros_like(x), np.zeros_like(x)])
        grads["_inputs"][0][:, t, :], grads["_inputs"][1][:, t, :] = x_c, x_r
        later_c, later_r = dn_c @ w_hh, dn_r @ np.abs(w_hh)
        if t == 0:
            h0_c, h0_r = later_c, later_r
    bounds: Bounds = {"grads": {}, "input_grads": {}}
    for name, (c, r) in grads.items():
        if name == "_inputs":
            bounds["input_grads"]["inputs"] = _interval(c, r)
        else:
            bounds["grads"][name] = _interval(c, r)
    if case.h0 is not None:
        bounds["input_grads"]["h0"] = _interval(h0_c, h0_r)
    return bounds
