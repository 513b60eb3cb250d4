"""refbp's forward in the forms finite differences can use beyond `loss(params)`.

`fd_functions(case)` gives, all in float64 on refbp's own forward:
  loss, probe        as `loss_function(case)`
  perturbed          perturbed(params) -> fn(name, flat_indices, deltas, kinks=False) -> losses [S]
                     (and the stacked nets of the kinked layers): S networks that each differ
                     from `params` in one entry of one tensor, evaluated together
                     (refbp.nn.perturbed); the forward at `params` is computed once, so
                     `params` must not change while fn is in use
  stacked            (params with a leading axis S on every tensor, kinks=False) -> losses [S]
  complex_loss, complex_perturbed
                     the same forward in complex arithmetic (refbp.nn.analytic), only when
                     every function of the network is analytic; else `not_analytic` says why.
Networks other than MLPs get only loss and probe (finite differences then loop).
"""

from __future__ import annotations

import numpy as np

from . import analytic, losses
from .perturbed import PerturbedLosses

CHUNK_FLOATS = 2**17


def fd_functions(case) -> dict:
    from .runner import _convert, build_model, loss_function

    value, probe = loss_function(case)
    functions = {"loss": value, "probe": probe}
    if case.network.kind != "mlp":
        functions["not_analytic"] = (f"complex step refused: refbp has no complex-capable forward for "
                                     f"{case.network.kind} networks")
        return functions
    model = build_model(case.network)
    loss = losses.get(case.loss)
    _, inputs, targets, _ = _convert(case, "float64")
    functions["perturbed"] = _perturbed(model, loss, inputs, targets)
    functions["perturbed"].chunks = _chunks(case, model)
    functions["stacked"] = _stacked(model, loss, inputs, targets)
    try:
        complex_model = build_model(case.network)
        complex_model.activations = analytic.analytic_activations(model.activations)
    except analytic.NotAnalytic as exc:
        functions["not_analytic"] = str(exc)
        return functions

    def complex_loss(params: dict) -> complex:
        return complex(loss.value(np, complex_model.forward(np, params, inputs).outputs, targets))

    functions["complex_loss"] = complex_loss
    functions["complex_perturbed"] = _perturbed(complex_model, loss, inputs, targets)
    functions["complex_perturbed"].chunks = {n: max(8, c // 2) for n, c in functions["perturbed"].chunks.items()}
    return functions


def _chunks(case, model) -> dict:
    """Perturbed networks per chunk, per tensor: about 2^17 floats (1 MiB) per stacked
    array, which refbp.nn.perturbed keeps as work buffers from call to call. Smaller chunks
    and numpy's cost per call shows; larger and the buffers leave the core's cache
    (32-64-64-10, central, the whole check, minimum (median) of 15 checks taking turns,
    on a machine busy at the time: 8.1 (13.6) ms at 2^14, 6.3 (10.6) at 2^15, 5.6 (9.1) at
    2^16, 5.1 (8.3) at 2^17, 5.7 (9.5) at 2^18).
    The stacked arrays of a layer-l perturbation are as wide as the layers after l (and l
    itself when its kinked units are wanted, or when it is the output layer)."""
    sizes, depth = case.network.sizes, len(model.activations)
    kinked = any(a.kinked for a in model.activations)
    chunks = {}
    for name in case.params:
        layer = int(name.split(".")[1])
        widths = sizes[layer + 1:] if kinked or layer + 1 == depth else sizes[layer + 2:]
        chunks[name] = max(16, CHUNK_FLOATS // (case.batch * max(widths)))
    return chunks


def _perturbed(model, loss, inputs, targets):
    def at(params):
        return PerturbedLosses(model, loss, params, inputs, targets, chunks=at.chunks)

    at.chunks = {}
    at.chunks_itself = True  # without kinks, one call per tensor (oracle.fd.evaluate)
    return at


def _stacked(model, loss, inputs, targets):
    def stacked(params, kinks=False):
        count = next(iter(params.values())).shape[0]
        cache = model.forward_stacked(np, params, inputs)
        outputs = np.broadcast_to(cache.outputs, (count,) + cache.outputs.shape[-2:])
        values = loss.values(np, outputs, targets)
        if not kinks:
            return values
        nets = {f"layers.{i}.net": np.broadcast_to(net, (count,) + net.shape[-2:])
                for i, (net, a) in enumerate(zip(cache.nets, model.activations)) if a.kinked}
        return values, nets

    return stacked
