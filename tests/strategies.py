"""Bounded hypothesis strategies for MLP cases: draw the shape first, then the numbers.

Sizes stay small (the finite-difference reference evaluates the network twice per
parameter) and inputs and weights bounded, so that no sigmoid saturates into flat
regions where a float64 comparison would judge rounding noise.
"""

from __future__ import annotations

from hypothesis import strategies as st

HIDDEN = ("identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus")
LOSS_OUTPUT = {
    "half_sse": HIDDEN + ("softmax",),
    "sse": HIDDEN + ("softmax",),
    "mse": HIDDEN + ("softmax",),
    "cross_entropy": ("identity",),
    "bce": ("sigmoid",),
}


@st.composite
def mlp_documents(draw, max_depth: int = 4, max_width: int = 6, max_batch: int = 12, train: bool = True):
    """A `refbp-case/1` MLP document with generated parameters and data."""
    depth = draw(st.integers(1, max_depth))
    sizes = draw(st.lists(st.integers(1, max_width), min_size=depth + 1, max_size=depth + 1))
    loss = draw(st.sampled_from(sorted(LOSS_OUTPUT)))
    if loss == "cross_entropy" and sizes[-1] < 2:
        sizes[-1] = 2
    hidden = draw(st.lists(st.sampled_from(HIDDEN), min_size=depth - 1, max_size=depth - 1))
    output = draw(st.sampled_from(LOSS_OUTPUT[loss]))
    batch = draw(st.integers(1, max_batch))
    seed = draw(st.integers(0, 2**32 - 1))
    targets = {"cross_entropy": draw(st.sampled_from(["classes", "simplex"])), "bce": "uniform"}.get(
        loss, "simplex" if output == "softmax" else "normal")
    document = {
        "format": "refbp-case/1",
        "id": "hypothesis-mlp",
        "network": {"kind": "mlp", "sizes": sizes, "activations": hidden + [output],
                    "bias": draw(st.booleans())},
        "loss": loss,
        "params": {"init": {"scheme": draw(st.sampled_from(["normal", "uniform", "xavier_uniform"])),
                            "seed": seed, "scale": draw(st.floats(0.1, 1.0))}},
        "inputs": {"random": {"seed": seed + 1, "distribution": "normal", "batch": batch}},
        "targets": {"random": {"seed": seed + 2, "distribution": targets}},
    }
    if train and draw(st.booleans()):
        if draw(st.booleans()):
            document["train"] = {"optimizer": "sgd", "lr": draw(st.floats(0.01, 0.5)),
                                 "momentum": draw(st.sampled_from([0.0, 0.9])),
                                 "weight_decay": draw(st.sampled_from([0.0, 0.01])),
                                 "steps": draw(st.integers(1, 3))}
        else:
            document["train"] = {"optimizer": "adam", "lr": draw(st.floats(1e-3, 0.05)),
                                 "steps": draw(st.integers(1, 3))}
    return document
