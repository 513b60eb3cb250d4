"""`loss_forms(case)`: refbp's forward in every form finite differences can use
(refbp.loss_forms.LossForms), all in float64 on refbp's own forward.

Every network gets the loss and its kink probe (refbp.perturbed.plain). RNNs also get the
batched form of many single-entry perturbations (refbp.perturbed.rnn_forms). MLPs get the
batched forms: many single-entry perturbations at once (refbp.perturbed.perturbed_losses),
stacked parameter sets (refbp.perturbed.stacked), and, where every function is analytic,
the complex step's forms (refbp.perturbed.analytic); refbp.oracle.fd checks each against the
loss before it trusts it.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from refbp.loss_forms import LossForms, PerturbedForm
from refbp.nn import build_model, case_arrays, losses

from . import analytic
from .activation_change import change_terms
from .perturbed_losses import PerturbedLosses
from .plain import clamp_in_reach, loss_and_probe
from .rnn_forms import rnn_loss_forms
from .stacked import stacked_losses

# Floats per stacked work array of one chunk (1 MiB): small enough to stay in the core's
# cache, large enough that numpy's cost per call does not show (docs/performance.md).
CHUNK_FLOATS = 2**17


def loss_forms(case) -> LossForms:
    loss, probe = loss_and_probe(case)
    model = build_model(case.network)
    initial, inputs, targets, h0 = case_arrays(case, "float64")
    clamped = clamp_in_reach(case, model.forward(np, initial, inputs, h0).outputs) if case.loss == "bce" else None
    if clamped is not None:  # bce near its clamp: the plain forward, whose probe sees the clamps
        return LossForms(loss, probe, not_analytic=clamped)
    if case.network.kind == "rnn":
        return rnn_loss_forms(case, loss, probe)
    if case.network.kind != "mlp":
        return LossForms(
            loss,
            probe,
            not_analytic=f"complex step refused: refbp has no complex-capable forward for {case.network.kind} networks",
        )
    loss_of_outputs = losses.get(case.loss)
    chunks, direct = chunk_sizes(case, model), direct_chunk_sizes(case, model)
    perturbed = PerturbedForm(
        _perturbed_at(model, loss_of_outputs, inputs, targets, direct), chunks, chunks_itself=True
    )
    stacked = stacked_losses(model, loss_of_outputs, inputs, targets)
    reason = analytic.not_analytic_reason(case.network.activations)
    if reason is not None:
        return LossForms(loss, probe, perturbed, stacked, not_analytic=reason)
    complex_model = build_model(case.network)
    complex_model.activations = analytic.analytic_activations(model.activations)

    def complex_loss(params: Mapping) -> complex:
        return complex(loss_of_outputs.value(np, complex_model.forward(np, params, inputs).outputs, targets))

    # Complex work arrays hold twice the bytes: half as many networks per chunk.
    complex_chunks = {name: max(8, chunk // 2) for name, chunk in chunks.items()}
    complex_direct = {layer: max(8, chunk // 2) for layer, chunk in direct.items()}
    complex_perturbed = PerturbedForm(
        _perturbed_at(complex_model, loss_of_outputs, inputs, targets, complex_direct),
        complex_chunks,
        chunks_itself=True,
    )
    return LossForms(loss, probe, perturbed, stacked, complex_loss, complex_perturbed)


def chunk_sizes(case, model) -> dict[str, int]:
    """Perturbed networks per chunk, per tensor: about CHUNK_FLOATS per stacked array. Where the
    fast path applies (`fast_path_layers`) the widest arrays are the outputs [S, B, O]; else
    the direct path's, one per layer (`direct_chunk_sizes`)."""
    fast, direct = fast_path_layers(model), direct_chunk_sizes(case, model)
    outputs = case.network.sizes[-1]
    chunks = {}
    for name in case.params:
        layer = int(name.split(".")[1])
        chunks[name] = max(16, CHUNK_FLOATS // (case.batch * outputs)) if layer in fast else direct[layer]
    return chunks


def direct_chunk_sizes(case, model) -> dict[int, int]:
    """Perturbed networks per part of the direct path, per perturbed layer: its stacked arrays
    are as wide as the layers after it (and the layer itself when its kinked units are wanted,
    or when it is the output layer)."""
    sizes, depth = case.network.sizes, len(model.activations)
    kinked = any(a.kinked for a in model.activations)
    chunks = {}
    for layer in range(depth):
        widths = sizes[layer + 1 :] if kinked or layer + 1 == depth else sizes[layer + 2 :]
        chunks[layer] = max(16, CHUNK_FLOATS // (case.batch * max(widths)))
    return chunks


def fast_path_layers(model) -> set[int]:
    """The layers whose perturbations may take PerturbedLosses' fast path: elementwise hidden
    layers followed by the output layer, or by one hidden layer with a change series."""
    activations = model.activations
    depth = len(activations)
    return {
        layer
        for layer in range(depth - 1)
        if activations[layer].elementwise
        and (layer + 2 == depth or (layer + 3 == depth and change_terms(activations[layer + 1], 0.0) is not None))
    }


def _perturbed_at(model, loss, inputs, targets, direct_chunks):
    def at(params, chunks) -> PerturbedLosses:
        return PerturbedLosses(model, loss, params, inputs, targets, chunks=chunks, direct_chunks=direct_chunks)

    return at
