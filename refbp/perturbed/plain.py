"""refbp's forward at one parameter set, as finite differences see it: the loss as a
function of the parameters and a probe of its kinked units, for any network refbp has.

The probe's kinked units are the relu family's pre-activations and, for bce, its clamped
logs (`bce_clamps`): bce is max(log y, -100) and max(log(1 - y), -100), as torch's BCELoss,
so an output moved into or out of a clamp (y past e^-100, or y rounded to exactly 1, where
log(1 - y) jumps from -36.7 or above to -100) straddles a non-differentiable point just as a
relu unit moved across 0 does. Near a clamp (`clamp_in_reach`) the batched forms, which
report only the relu family's nets, and the complex step, which a max is not, are not used
(refbp.perturbed.forms).

Truncated BPTT (an RNN with `truncate = k`) is the exact gradient of the loss with every
chunk-entering hidden state held constant at its value at the case's parameters (torch's
`detach()`): that function, not the plain loss, is what finite differences must
differentiate to check a truncated backward. It is built here from refbp.nn's plain RNN
forward, one call per chunk of k steps starting from the held state, because it is the
finite differences' view of truncation; refbp.nn's RNN only needs to know where the
chunks end (its backward stops there).
"""

from __future__ import annotations

import numpy as np

from refbp.names import ACTIVATIONS
from refbp.nn import build_model, case_arrays, losses
from refbp.nn import loss_function as plain_loss


def kinked_nets(network) -> list[str]:
    """Names of the recorded pre-activations (refbp.nn's `intermediates`) whose activation has a kink at 0."""
    if network.kind == "mlp":
        activation_of = {f"layers.{i}.net": name for i, name in enumerate(network.activations)}
    else:
        activation_of = {"rnn.net": network.nonlinearity, "readout.net": network.output_activation}
    return [net for net, name in activation_of.items() if ACTIVATIONS[name].kinked]


def bce_clamps(targets):
    """outputs -> {"bce.log(y)": log y + 100, "bce.log(1-y)": log(1 - y) + 100}: bce's clamped
    logs as kinked units, each positive above its clamp and not above 0 in it (+inf where its
    weight, t or 1 - t, is 0: that term cannot kink)."""
    floor = losses.BCE.LOG_FLOOR
    targets = np.asarray(targets, dtype=np.float64)

    def clamps(outputs) -> dict:
        outputs = np.asarray(outputs, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            return {
                "bce.log(y)": np.where(targets != 0, np.log(outputs) - floor, np.inf),
                "bce.log(1-y)": np.where(targets != 1, np.log(1.0 - outputs) - floor, np.inf),
            }

    return clamps


def clamp_in_reach(case, outputs) -> str | None:
    """Why the complex step and the batched forms are refused for a bce case whose `outputs`
    (at the case's parameters) have a weighted log in or within CLAMP_REACH of where it
    kinks (None: no such output)."""
    if case.loss != "bce":
        return None
    floor = losses.BCE.LOG_FLOOR
    # Where each log kinks: log y at the clamp; log(1 - y) where y rounds to 1 (it jumps from
    # log(2^-53) to the clamp), in the units' terms (log + 100).
    kinks_at = {"bce.log(y)": 0.0, "bce.log(1-y)": np.log(2.0**-53) - floor}
    for name, values in bce_clamps(case.targets)(outputs).items():
        near = np.argwhere(values < kinks_at[name] + CLAMP_REACH)
        if near.size:
            unit = name + "".join(f"[{int(i)}]" for i in near[0])
            return (
                f"complex step refused: bce clamps its logs at -100 (as torch's BCELoss) and {unit} is within "
                f"reach of its clamp (a max is not analytic); central differences on the plain forward judge it, "
                f"the clamps probed as kinks"
            )
    return None


# A weighted log of bce within this of where it kinks (its clamp at -100 for log y; -36.7 for
# log(1 - y), at the last float below 1, past which it jumps to the clamp), or past it, is
# within reach of a stencil (clamp_in_reach): one on large weights or inputs moves a net by
# a few units. Wider, ordinary saturated outputs (1 - y = 1e-10 on random weights) would lose
# the batched forms for nothing; a jump missed there is seen as noise (refbp.oracle.fd.noise).
CLAMP_REACH = 5.0


def loss_and_probe(case):
    """(loss(params) -> float, probe(params) -> {kinked net: pre-activations}), in float64."""
    model = build_model(case.network)
    initial, inputs, targets, h0 = case_arrays(case, "float64")
    kinked = kinked_nets(case.network)
    clamps = bce_clamps(targets) if case.loss == "bce" else None
    truncate = case.network.truncate if case.network.kind == "rnn" else None
    if truncate is None:

        def forward(params):
            cache = model.forward(np, params, inputs, h0)
            return cache.outputs, model.intermediates(cache)

        loss = plain_loss(case)
    else:
        forward = _truncated_forward(model, initial, inputs, h0, truncate)
        loss_of_outputs = losses.get(case.loss)

        def loss(params) -> float:
            return float(loss_of_outputs.value(np, forward(params)[0], targets))

    def probe(params) -> dict:
        outputs, named = forward(params)
        units = {name: np.asarray(named[name]) for name in kinked}
        if clamps is not None:
            units.update(clamps(outputs))
        return units

    return loss, probe


def _truncated_forward(model, initial: dict, inputs, h0, truncate: int):
    """params -> (outputs, intermediates) of the RNN with every chunk-entering state held at
    its value at `initial`: chunk c (steps ck .. ck + k - 1) starts from h_{ck} of the
    forward at `initial` (chunk 0 from h0)."""
    states = model.forward(np, initial, inputs, h0).states
    steps = inputs.shape[1]
    chunks = [
        (slice(start, start + truncate), h0 if start == 0 else states[:, start - 1, :])
        for start in range(0, steps, truncate)
    ]
    every_step = model.network.readout == "every_step"

    def forward(params):
        caches = [model.forward(np, params, inputs[:, part], held) for part, held in chunks]
        named = [model.intermediates(cache) for cache in caches]
        # Per-step values join along time; a last-step readout is the last chunk's.
        joined = {
            name: np.concatenate([n[name] for n in named], axis=1)
            if name.startswith("rnn.") or every_step
            else named[-1][name]
            for name in named[0]
        }
        outputs = np.concatenate([c.outputs for c in caches], axis=1) if every_step else caches[-1].outputs
        return outputs, joined

    return forward
