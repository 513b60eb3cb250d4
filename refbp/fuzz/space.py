"""What `refbp fuzz` draws: one hypothesis strategy of whole `refbp-case/1` documents per
kind (mlp, rnn, all) and dtype, built from the public strategies (refbp.testing.strategies).

Each example first draws a value range (`VALUE_RANGES`: ordinary, large, tiny, near_kink),
then a network of that kind with everything the strategies vary (shapes, depths,
activations, losses and their heads, batches, sequence lengths, truncation, h0, optimizers
and step counts), and records the range in the document's tags. Two exclusions, both
stated by the strategies' own bounds:
- "large" values (10 to 1000) train nothing: a few steps on them overflow, and they are a
  test of the stable forms (saturation, e^1000), not of an optimizer;
- float32 draws no "large" values: float32 rounding of sums of terms up to 1000 is not
  order-one, and the float32 tolerances (refbp.check.tolerance) assume order-one terms.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from refbp import names
from refbp.testing.strategies import (
    VALUE_RANGES,
    mlp_documents,
    rnn_documents,
    value_ranges,
)

from .capabilities import Capabilities

KINDS = ("mlp", "rnn", "all")
# The value ranges each dtype draws from (see the module docstring).
RANGES_BY_DTYPE: dict[str, tuple[str, ...]] = {
    "float64": tuple(VALUE_RANGES),
    "float32": tuple(r for r in VALUE_RANGES if r != "large"),
    # 8 to 11 significant bits: order-one values only ("tiny" and "near_kink" are 0 in float16).
    "float16": ("ordinary",),
    "bfloat16": ("ordinary",),
}
UNTRAINED_RANGES = ("large",)
VALUES_TAG = "values:"


def example_documents(kind="all", dtype: str = "float64") -> st.SearchStrategy[dict]:
    """Explicit case documents of `kind` (mlp, rnn or all: either; or a Capabilities: only the
    cases inside it, refbp.fuzz.capabilities) in `dtype`, each tagged with the value range it was
    drawn from (`values:<range>`)."""
    if isinstance(kind, Capabilities):
        return _inside(kind, dtype)
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r} (known: {', '.join(KINDS)})")
    if dtype not in names.DTYPES:
        raise ValueError(f"unknown dtype {dtype!r} (known: {', '.join(names.DTYPES)})")

    def in_range(values: str) -> st.SearchStrategy[dict]:
        train = False if values in UNTRAINED_RANGES else None
        mlp = mlp_documents(dtypes=(dtype,), values=values, train=train)
        rnn = rnn_documents(dtypes=(dtype,), values=values, train=train)
        chosen = {"mlp": mlp, "rnn": rnn, "all": st.one_of(mlp, rnn)}[kind]
        return chosen.map(lambda document: dict(document, tags=["fuzz", VALUES_TAG + values]))

    return value_ranges(RANGES_BY_DTYPE[dtype]).flatmap(in_range)


def _inside(space: Capabilities, dtype: str) -> st.SearchStrategy[dict]:
    """Documents inside `space` only: its kinds, activations, losses with their heads, biases,
    batches and trainings (the drawing order within a kind is the same as `example_documents`')."""
    kinds = space.drawable_kinds()
    if not kinds or dtype not in space.dtypes:
        raise ValueError(f"nothing to draw in {dtype}: {space.describe()}")
    losses = space.losses_with_heads()
    hidden = tuple(a for a in space.activations if names.ACTIVATIONS[a].elementwise)
    bias = space.bias[0] if len(space.bias) == 1 else None
    training = {
        "momenta": (0.0, 0.5, 0.9) if space.momentum else (0.0,),
        "weight_decays": (0.0, 0.01, 0.1) if space.weight_decay else (0.0,),
        "frozen": None if space.frozen else False,
    }
    batch: dict[str, Any] = {"min_batch": space.batch[0]}

    def in_range(values: str) -> st.SearchStrategy[dict]:
        train = False if values in UNTRAINED_RANGES else None
        drawn = []
        if "mlp" in kinds:
            drawn.append(
                mlp_documents(
                    dtypes=(dtype,),
                    values=values,
                    train=train,
                    losses=losses,
                    hidden_activations=hidden,
                    output_activations=space.activations,
                    max_depth=4 if hidden else 1,
                    bias=bias,
                    optimizers=space.optimizers,
                    training=training,
                    max_batch=space.batch[1],
                    **batch,
                )
            )
        if "rnn" in kinds:
            drawn.append(
                rnn_documents(
                    dtypes=(dtype,),
                    values=values,
                    train=train,
                    losses=losses,
                    nonlinearities=tuple(a for a in space.activations if a in names.RNN_NONLINEARITIES),
                    output_activations=space.activations,
                    bias=bias,
                    readout_bias=bias,
                    optimizers=space.optimizers,
                    training=training,
                    max_batch=max(space.batch[0], min(space.batch[1], 3)),
                    **batch,
                )
            )
        chosen = drawn[0] if len(drawn) == 1 else st.one_of(*drawn)
        return chosen.map(lambda document: dict(document, tags=["fuzz", VALUES_TAG + values]))

    return value_ranges(RANGES_BY_DTYPE[dtype]).flatmap(in_range)


def value_range_of(document: dict) -> str:
    """The range an example was drawn from (its `values:` tag), "" when it has none."""
    return next((t[len(VALUES_TAG) :] for t in document.get("tags", ()) if t.startswith(VALUES_TAG)), "")
