"""`rnn_loss_forms(case, loss, probe)`: an RNN's forms for finite differences: the plain loss and
kink probe (refbp.perturbed.plain) and the batched form of many single-entry perturbations
(refbp.perturbed.rnn_losses), all on refbp's own RNN forward in float64. There is no
complex-capable RNN forward, so no complex step."""

from __future__ import annotations

from refbp.loss_forms import LossForms, PerturbedForm
from refbp.names import ACTIVATIONS
from refbp.nn import build_model, case_arrays, losses

from .rnn_base import segments
from .rnn_losses import RNNPerturbedLosses

# Floats per work array of one chunk, as the MLPs' forms (refbp.perturbed.forms.CHUNK_FLOATS).
CHUNK_FLOATS = 2**17


def rnn_loss_forms(case, loss, probe) -> LossForms:
    model = build_model(case.network)
    loss_of_outputs = losses.get(case.loss)
    initial, inputs, targets, h0 = case_arrays(case, "float64")
    parts = segments(model, initial, inputs, h0)

    def at(params, chunks) -> RNNPerturbedLosses:
        return RNNPerturbedLosses(model, loss_of_outputs, params, inputs, targets, h0, parts, chunks)

    chunks = chunk_sizes(case)
    return LossForms(
        loss,
        probe,
        PerturbedForm(at, chunks, chunks_itself=True),
        not_analytic="complex step refused: refbp has no complex-capable forward for rnn networks",
    )


def chunk_sizes(case) -> dict[str, int]:
    """Perturbed networks per chunk, per tensor: about CHUNK_FLOATS floats per work array. An
    rnn.* chunk holds a step's states [H, B*S], with an every-step readout every step's
    outputs [T, O, B*S], and under a kinked nonlinearity the signs of every step's nets
    [T, H, B*S] (int8, an eighth of a float each); a readout chunk holds the readout's nets
    [S, B, (T,) O]."""
    network = case.network
    batch, steps = case.inputs.shape[:2]
    read_steps = steps if network.readout == "every_step" else 1
    outputs = read_steps * network.output_size
    signs = steps * network.hidden_size // 8 if ACTIVATIONS[network.nonlinearity].kinked else 0
    recurrence = max(16, CHUNK_FLOATS // (batch * max(network.hidden_size, outputs, signs)))
    readout = max(16, CHUNK_FLOATS // (batch * outputs))
    return {name: readout if name.startswith("readout.") else recurrence for name in case.params}
