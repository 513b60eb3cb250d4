"""Hypothesis strategies for fuzzing a backpropagation: networks, whole MLP and RNN cases,
training settings, value ranges and dtypes; shapes are drawn first, then the numbers.

Needs hypothesis (in refbp's core install); nothing of refbp imports this but fuzzing. The value
ranges and the strategies of single numbers and arrays are refbp.testing.values; those of the
`network` and `train` fields, with the bounds below, are refbp.testing.fields.

The network, training and case strategies draw the fields of a `refbp-case/1` document as
plain JSON values (lists and numbers, ready for `json.dumps`), every number explicitly: a
case drawn here needs no random generator to reproduce, and hypothesis shrinks a failing
case to a small one, numbers included. `mlp_cases()`/`rnn_cases()` parse the documents into `cases.Case`
objects. Names (activations, losses, optimizers, readouts, dtypes) come from `refbp.names`.

Bounds (keyword arguments, defaults below): sizes of at most `MAX_WIDTH` units, `MAX_DEPTH`
layers, `MAX_BATCH` examples, `MAX_STEPS` time steps and `MAX_TRAIN_STEPS` updates;
inputs, targets and h0 within a named range of `VALUE_RANGES` (or 0); every weight and bias
0 or of a magnitude in [0.001, 1] / sqrt(fan_in), within the bounds torch.nn.Linear and
torch.nn.RNN draw their initial parameters in (fan_in: a layer's inputs; the hidden size
for every tensor of the RNN layer). With ordinary inputs a net is then a few units in
size, unless many weights at their bound line up (at most sqrt(fan_in) + 1 times a
layer's largest input). The numbers of a float32 case are float32 numbers, so that the
float64 reference sees exactly the numbers the implementation under test sees.

Composing: each strategy takes the allowed names as tuples, so a test narrows what it
draws (`mlp_cases(losses=("bce",), max_depth=2, dtypes=("float32",))`), and a drawn range
combines through `flatmap` (`value_ranges().flatmap(lambda v: mlp_cases(values=v))`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

try:
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp
except ImportError as error:  # an install without it (the core has it; `refbp[fuzz]` names it)
    raise ImportError("refbp.testing.strategies needs hypothesis: pip install 'refbp[fuzz]'") from error

from refbp import names
from refbp.cases import MLPNetwork, RNNNetwork, parse_case

from .fields import (
    HIDDEN_ACTIVATIONS,
    LOSS_HEADS,
    MAX_BATCH,
    MAX_DEPTH,
    MAX_STEPS,
    MAX_TRAIN_STEPS,
    MAX_WIDTH,
    mlp_networks,
    output_activations,
    rnn_networks,
    trainings,
)
from .values import VALUE_RANGES, arrays, dtypes, value_ranges, values

__all__ = [
    "HIDDEN_ACTIVATIONS",
    "LOSS_HEADS",
    "MAX_BATCH",
    "MAX_DEPTH",
    "MAX_STEPS",
    "MAX_TRAIN_STEPS",
    "MAX_WIDTH",
    "VALUE_RANGES",
    "arrays",
    "dtypes",
    "mlp_cases",
    "mlp_documents",
    "mlp_networks",
    "output_activations",
    "rnn_cases",
    "rnn_documents",
    "rnn_networks",
    "trainings",
    "value_ranges",
    "values",
]


# ---- whole cases -------------------------------------------------------------------------


@st.composite
def mlp_documents(
    draw,
    *,
    losses: Sequence[str] = tuple(names.LOSSES),
    max_depth: int = MAX_DEPTH,
    max_width: int = MAX_WIDTH,
    max_batch: int = MAX_BATCH,
    hidden_activations: Sequence[str] = HIDDEN_ACTIVATIONS,
    output_activations: Sequence[str] | None = None,
    bias: bool | None = None,
    dtypes: Sequence[str] = ("float64",),
    values: str = "ordinary",
    train: bool | None = None,
    optimizers: Sequence[str] = names.OPTIMIZERS,
    min_batch: int = 1,
    training: dict | None = None,
) -> dict:
    """An explicit `refbp-case/1` MLP document: a loss, a network ending in a matching head
    (`mlp_networks`), 1 to `max_batch` examples of inputs in `values`, targets the loss takes
    (class indices or probabilities for cross_entropy, [0, 1] for bce, probabilities after a
    softmax, `values` otherwise), parameters within the module's bounds, and training
    (`trainings`, with `training`'s keyword arguments; `train=None`: maybe, True: always, False:
    never). `min_batch`: at least that many examples."""
    loss = draw(st.sampled_from(tuple(losses)))
    network = draw(
        mlp_networks(
            loss=loss,
            max_depth=max_depth,
            max_width=max_width,
            hidden_activations=hidden_activations,
            output_activations=output_activations,
            bias=bias,
        )
    )
    shape = MLPNetwork(tuple(network["sizes"]), tuple(network["activations"]), network["bias"])
    batch = draw(st.integers(min_batch, max_batch))
    return draw(
        _document(
            shape, network, loss, (batch, network["sizes"][0]), (batch,), dtypes, values, train, optimizers, training
        )
    )


@st.composite
def rnn_documents(
    draw,
    *,
    losses: Sequence[str] = tuple(names.LOSSES),
    max_size: int = 5,
    max_steps: int = MAX_STEPS,
    max_batch: int = 3,
    nonlinearities=names.RNN_NONLINEARITIES,
    readouts=names.RNN_READOUTS,
    output_activations: Sequence[str] | None = None,
    bias: bool | None = None,
    readout_bias: bool | None = None,
    truncate: bool | None = None,
    h0: bool | None = None,
    dtypes: Sequence[str] = ("float64",),
    values: str = "ordinary",
    train: bool | None = False,
    optimizers: Sequence[str] = names.OPTIMIZERS,
    min_batch: int = 1,
    training: dict | None = None,
) -> dict:
    """An explicit `refbp-case/1` RNN document: a network from `rnn_networks`, 1 to `max_batch`
    sequences of 1 to `max_steps` steps of inputs in `values`, targets at every or the last
    step as in `mlp_documents`, an initial hidden state in `values` or none (`h0=None`:
    either), training as in `mlp_documents` (`train=False` by default: BPTT is checked)."""
    loss = draw(st.sampled_from(tuple(losses)))
    network = draw(
        rnn_networks(
            loss=loss,
            max_size=max_size,
            max_steps=max_steps,
            nonlinearities=nonlinearities,
            readouts=readouts,
            output_activations=output_activations,
            bias=bias,
            readout_bias=readout_bias,
            truncate=truncate,
        )
    )
    shape = RNNNetwork(**{k: v for k, v in network.items() if k != "kind"})
    batch, steps = draw(st.integers(min_batch, max_batch)), draw(st.integers(1, max_steps))
    lead = (batch, steps) if network["readout"] == "every_step" else (batch,)
    document = draw(
        _document(
            shape,
            network,
            loss,
            (batch, steps, network["input_size"]),
            lead,
            dtypes,
            values,
            train,
            optimizers,
            training,
        )
    )
    if draw(st.booleans()) if h0 is None else h0:
        document["h0"] = draw(arrays((batch, network["hidden_size"]), values=values, dtype=document["dtype"])).tolist()
    return document


def mlp_cases(**bounds) -> st.SearchStrategy:
    """`mlp_documents(**bounds)` parsed into `cases.Case` objects."""
    return mlp_documents(**bounds).map(parse_case)


def rnn_cases(**bounds) -> st.SearchStrategy:
    """`rnn_documents(**bounds)` parsed into `cases.Case` objects."""
    return rnn_documents(**bounds).map(parse_case)


@st.composite
def _document(
    draw,
    shape,
    network: dict,
    loss: str,
    input_shape,
    lead,
    allowed_dtypes,
    values,
    train,
    optimizers,
    training: dict | None = None,
) -> dict:
    """The fields every case has, once the network and the data's leading axes are drawn."""
    shapes = shape.param_shapes()
    dtype = draw(dtypes(allowed_dtypes))
    document = {
        "format": "refbp-case/1",
        "id": f"hypothesis-{network['kind']}",
        "network": network,
        "loss": loss,
        "dtype": dtype,
        "params": {
            name: draw(arrays(s, values=_init_range(name, shapes), dtype=dtype)).tolist() for name, s in shapes.items()
        },
        "inputs": draw(arrays(input_shape, values=values, dtype=dtype)).tolist(),
        "targets": draw(_targets(loss, shape.output_activation, lead, shape.output_size, values, dtype)).tolist(),
    }
    if optimizers and (draw(st.booleans()) if train is None else train):
        document["train"] = draw(trainings(list(shapes), optimizers=optimizers, **(training or {})))
    return document


def _init_range(name: str, shapes: dict) -> tuple[float, float]:
    """Magnitudes up to 1/sqrt(fan_in), as torch.nn.Linear and torch.nn.RNN initialise (and
    no smaller than the ordinary range allows)."""
    if name.startswith("rnn."):
        fan_in = shapes["rnn.weight_hh"][0]
    else:
        fan_in = shapes[name.rsplit(".", 1)[0] + ".weight"][1]
    low, high = VALUE_RANGES["ordinary"]
    return low / math.sqrt(fan_in), high / math.sqrt(fan_in)


def _targets(loss: str, head: str, lead: tuple[int, ...], outputs: int, values, dtype: str) -> st.SearchStrategy:
    if loss == "cross_entropy":
        classes = hnp.arrays(np.int64, lead, elements=st.integers(0, outputs - 1), fill=st.nothing())
        return st.one_of(classes, _probabilities(lead + (outputs,)))
    if loss == "bce":
        return arrays(lead + (outputs,), values=VALUE_RANGES["ordinary"], dtype=dtype).map(np.abs)
    if head == "softmax":
        return _probabilities(lead + (outputs,))
    return arrays(lead + (outputs,), values=values, dtype=dtype)


def _probabilities(shape) -> st.SearchStrategy:
    """Rows on the probability simplex along the last axis (float64: they must sum to 1)."""
    weights = arrays(shape, values=(0.01, 1.0)).map(lambda w: np.abs(w) + 0.01)
    return weights.map(lambda w: w / w.sum(axis=-1, keepdims=True))
