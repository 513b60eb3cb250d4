"""Hypothesis strategies for the `network` and `train` fields of a `refbp-case/1` document, with their bounds.

The fields are drawn as plain JSON values (lists and numbers); the output activation follows
what the loss requires (`LOSS_HEADS`). Whole cases built from them are refbp.testing.strategies'.
"""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st

from refbp import names

MAX_DEPTH = 4
MAX_WIDTH = 6
MAX_BATCH = 12
MAX_STEPS = 7
MAX_TRAIN_STEPS = 3

# A layer's activation may be anything applied per value; softmax only ends a network.
HIDDEN_ACTIVATIONS = tuple(name for name, a in names.ACTIVATIONS.items() if a.elementwise)
# The output activation a loss requires (cases/load.py checks it); other losses take any.
# refbp's cross_entropy takes logits (the softmax is inside the loss), bce probabilities.
LOSS_HEADS: dict[str, tuple[str, ...]] = {"cross_entropy": ("identity",), "bce": ("sigmoid",)}


def output_activations(loss: str | None) -> tuple[str, ...]:
    """The output activations `loss` may follow (every activation for loss=None)."""
    return tuple(names.ACTIVATIONS) if loss is None else LOSS_HEADS.get(loss, tuple(names.ACTIVATIONS))


# ---- networks ----------------------------------------------------------------------------


@st.composite
def mlp_networks(
    draw,
    *,
    loss: str | None = None,
    max_depth: int = MAX_DEPTH,
    max_width: int = MAX_WIDTH,
    hidden_activations: Sequence[str] = HIDDEN_ACTIVATIONS,
    output_activations: Sequence[str] | None = None,
    bias: bool | None = None,
) -> dict:
    """The `network` field of an MLP case: 1 to `max_depth` layers of 1 to `max_width` units
    (at least 2 outputs under a softmax or cross_entropy: one class has no gradient), hidden
    activations from `hidden_activations`, an output activation `loss` accepts (narrowed to
    `output_activations`), with or without biases (`bias=None`: either)."""
    depth = draw(st.integers(1, max_depth))
    sizes = draw(st.lists(st.integers(1, max_width), min_size=depth + 1, max_size=depth + 1))
    output = draw(st.sampled_from(_heads(loss, output_activations)))
    if output == "softmax" or loss == "cross_entropy":
        sizes[-1] = max(sizes[-1], 2)
    hidden = draw(st.lists(st.sampled_from(tuple(hidden_activations)), min_size=depth - 1, max_size=depth - 1))
    return {
        "kind": "mlp",
        "sizes": sizes,
        "activations": hidden + [output],
        "bias": draw(st.booleans()) if bias is None else bias,
    }


@st.composite
def rnn_networks(
    draw,
    *,
    loss: str | None = None,
    max_size: int = 5,
    max_steps: int = MAX_STEPS,
    nonlinearities: Sequence[str] = names.RNN_NONLINEARITIES,
    readouts: Sequence[str] = names.RNN_READOUTS,
    output_activations: Sequence[str] | None = None,
    bias: bool | None = None,
    readout_bias: bool | None = None,
    truncate: bool | None = None,
) -> dict:
    """The `network` field of an RNN case: input, hidden and output sizes of 1 to `max_size`
    (at least 2 outputs under a softmax or cross_entropy), a nonlinearity, a readout at every
    or the last step with an output activation `loss` accepts, recurrent and readout biases
    or not, and truncated BPTT after 1 to `max_steps` steps or not (`None`: either)."""
    input_size, hidden_size, output_size = (draw(st.integers(1, max_size)) for _ in range(3))
    output = draw(st.sampled_from(_heads(loss, output_activations)))
    if output == "softmax" or loss == "cross_entropy":
        output_size = max(output_size, 2)
    network = {
        "kind": "rnn",
        "input_size": input_size,
        "hidden_size": hidden_size,
        "output_size": output_size,
        "nonlinearity": draw(st.sampled_from(tuple(nonlinearities))),
        "output_activation": output,
        "readout": draw(st.sampled_from(tuple(readouts))),
        "bias": draw(st.booleans()) if bias is None else bias,
        "readout_bias": draw(st.booleans()) if readout_bias is None else readout_bias,
    }
    if draw(st.booleans()) if truncate is None else truncate:
        network["truncate"] = draw(st.integers(1, max_steps))
    return network


def _heads(loss: str | None, narrowed: Sequence[str] | None) -> tuple[str, ...]:
    heads = output_activations(loss)
    return heads if narrowed is None else tuple(h for h in heads if h in narrowed)


# ---- training ----------------------------------------------------------------------------


@st.composite
def trainings(
    draw,
    params: Sequence[str],
    *,
    optimizers: Sequence[str] = names.OPTIMIZERS,
    max_steps: int = MAX_TRAIN_STEPS,
    frozen: bool | None = None,
    momenta: Sequence[float] = (0.0, 0.5, 0.9),
    weight_decays: Sequence[float] = (0.0, 0.01, 0.1),
) -> dict:
    """The `train` field of a case: SGD (lr in [0.01, 0.5], momentum from `momenta`: 0, 0.5 or 0.9) or
    Adam (lr in [0.001, 0.05], betas (0.9, 0.999) or (0.8, 0.99)), weight decay from `weight_decays`
    (0, 0.01 or 0.1), 1 to `max_steps` updates, and some of `params` frozen, never all
    (`frozen=None`: maybe)."""
    optimizer = draw(st.sampled_from(tuple(optimizers)))
    train = {
        "optimizer": optimizer,
        "steps": draw(st.integers(1, max_steps)),
        "weight_decay": draw(st.sampled_from(tuple(weight_decays))),
    }
    if optimizer == "sgd":
        train |= {"lr": draw(st.floats(0.01, 0.5)), "momentum": draw(st.sampled_from(tuple(momenta)))}
    else:
        train |= {"lr": draw(st.floats(1e-3, 0.05)), "betas": list(draw(st.sampled_from(((0.9, 0.999), (0.8, 0.99)))))}
    if len(params) > 1 and (draw(st.booleans()) if frozen is None else frozen):
        train["frozen"] = draw(
            st.lists(st.sampled_from(tuple(params)), min_size=1, max_size=len(params) - 1, unique=True)
        )
    return train
