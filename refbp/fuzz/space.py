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

from hypothesis import strategies as st

from refbp import names
from refbp.testing.strategies import VALUE_RANGES, mlp_documents, rnn_documents, value_ranges

KINDS = ("mlp", "rnn", "all")
# The value ranges each dtype draws from (see the module docstring).
RANGES_BY_DTYPE: dict[str, tuple[str, ...]] = {
    "float64": tuple(VALUE_RANGES),
    "float32": tuple(r for r in VALUE_RANGES if r != "large"),
}
UNTRAINED_RANGES = ("large",)
VALUES_TAG = "values:"


def example_documents(kind: str = "all", dtype: str = "float64") -> st.SearchStrategy[dict]:
    """Explicit case documents of `kind` (mlp, rnn or all: either) in `dtype`, each tagged
    with the value range it was drawn from (`values:<range>`)."""
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


def value_range_of(document: dict) -> str:
    """The range an example was drawn from (its `values:` tag), "" when it has none."""
    return next((t[len(VALUES_TAG):] for t in document.get("tags", ()) if t.startswith(VALUES_TAG)), "")
