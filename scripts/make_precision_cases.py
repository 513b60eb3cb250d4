"""Write the low-precision group, cases/precision/: each network in float32, float16 and bfloat16.

    python scripts/make_precision_cases.py [OUT_DIR]      # default: cases/precision

Every number is drawn with numpy's PCG64 from the seed in the case's `source` and rounded to a
number that float16 and bfloat16 both hold exactly (8 significant bits, magnitudes from 2^-14 to
2^15; smaller ones are 0), so the three versions of a network are the same problem and each
implementation, and torch at that precision, is handed exactly the numbers the float64 references
see. No value here comes from refbp's code, and the cases publish no expected values: the
references (torch in float64, and torch at the case's precision: docs/precision.md) are computed
when the case is checked.

The networks are those that make sense at 8 to 11 significant bits: smooth activations (a relu
unit within rounding of 0 takes either slope, and such a case would be inconclusive, not a
test), order-one values, SGD (Adam's eps of 1e-8 is 0 in float16), and batches up to 64 (the
suite's largest; tests/test_precision.py plants a float16 batch sum over 2,048 examples).
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

import ml_dtypes
import numpy as np

DTYPES = ("float32", "float16", "bfloat16")
SMALLEST = 2.0**-14  # float16's smallest normal number


def exact(array: np.ndarray) -> list:
    """`array` rounded to numbers float16 and bfloat16 both hold (bfloat16 first: fewer bits)."""
    values = np.asarray(array, dtype=np.float64).astype(ml_dtypes.bfloat16).astype(np.float64)
    values[np.abs(values) < SMALLEST] = 0.0
    assert np.array_equal(values.astype(np.float16).astype(np.float64), values)
    return values.tolist()


def mlp(rng, sizes, batch, activations, loss, train=None, output_bias=0.0) -> dict:
    """`output_bias`: the mean of the last layer's bias (the draws are the same for any mean)."""
    params = {}
    last = len(sizes) - 2
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        params[f"layers.{i}.weight"] = exact(rng.normal(0, 1 / np.sqrt(n_in), (n_out, n_in)))
        params[f"layers.{i}.bias"] = exact(rng.normal(output_bias if i == last else 0.0, 0.1, n_out))
    inputs = exact(rng.normal(0, 1, (batch, sizes[0])))
    targets = _targets(rng, loss, activations[-1], (batch,), sizes[-1])
    network = {"kind": "mlp", "sizes": list(sizes), "activations": list(activations), "bias": True}
    return _case(network, loss, params, inputs, targets, train)


def rnn(
    rng, sizes, batch, steps, loss, readout="every_step", output_activation="identity", truncate=None, train=None
) -> dict:
    inputs_n, hidden, outputs = sizes
    params = {
        "rnn.weight_ih": exact(rng.normal(0, 1 / np.sqrt(inputs_n), (hidden, inputs_n))),
        "rnn.weight_hh": exact(rng.normal(0, 0.5 / np.sqrt(hidden), (hidden, hidden))),
        "rnn.bias_ih": exact(rng.normal(0, 0.1, hidden)),
        "rnn.bias_hh": exact(rng.normal(0, 0.1, hidden)),
        "readout.weight": exact(rng.normal(0, 1 / np.sqrt(hidden), (outputs, hidden))),
        "readout.bias": exact(rng.normal(0, 0.1, outputs)),
    }
    inputs = exact(rng.normal(0, 1, (batch, steps, inputs_n)))
    lead = (batch, steps) if readout == "every_step" else (batch,)
    targets = _targets(rng, loss, output_activation, lead, outputs)
    network = {
        "kind": "rnn",
        "input_size": inputs_n,
        "hidden_size": hidden,
        "output_size": outputs,
        "nonlinearity": "tanh",
        "output_activation": output_activation,
        "readout": readout,
    }
    if truncate:
        network["truncate"] = truncate
    return _case(network, loss, params, inputs, targets, train)


def _targets(rng, loss, head, lead, outputs):
    if loss == "cross_entropy":
        return rng.integers(0, outputs, lead).tolist()
    if loss == "bce":
        return exact(rng.uniform(0, 1, lead + (outputs,)))
    if head == "softmax":
        p = rng.dirichlet(np.ones(outputs), lead)
        return exact(p)  # near a distribution; mse does not ask for one
    return exact(rng.normal(0, 0.5, lead + (outputs,)))


def _case(network, loss, params, inputs, targets, train) -> dict:
    document = {"network": network, "loss": loss, "params": params, "inputs": inputs, "targets": targets}
    if train:
        document["train"] = train
    return document


# (id stem, title, seed, builder)
NETWORKS = [
    (
        "mlp-sigmoid-half-sse-b16",
        "2 layers of sigmoid, half_sse, one SGD step",
        1,
        lambda rng: mlp(rng, (4, 8, 3), 16, ("sigmoid", "sigmoid"), "half_sse", {"optimizer": "sgd", "lr": 0.1}),
    ),
    (
        "mlp-tanh-mse-b32-momentum",
        "3 layers of tanh, mse, two SGD steps with momentum",
        2,
        lambda rng: mlp(
            rng,
            (6, 16, 16, 4),
            32,
            ("tanh", "tanh", "identity"),
            "mse",
            {"optimizer": "sgd", "lr": 0.05, "momentum": 0.9, "steps": 2},
        ),
    ),
    (
        "mlp-softplus-ce-b64",
        "softplus, cross-entropy over 5 classes, a batch of 64",
        3,
        lambda rng: mlp(rng, (8, 16, 5), 64, ("softplus", "identity"), "cross_entropy"),
    ),
    (
        "mlp-sigmoid-bce-b12",
        "sigmoid output, bce",
        4,
        lambda rng: mlp(rng, (5, 8, 3), 12, ("tanh", "sigmoid"), "bce", {"optimizer": "sgd", "lr": 0.1}),
    ),
    (
        "mlp-softmax-mse-b8",
        "softmax output layer, mse",
        5,
        lambda rng: mlp(rng, (4, 6, 4), 8, ("sigmoid", "softmax"), "mse"),
    ),
    ("rnn-tanh-every-mse-t6", "tanh RNN, readout at every step, mse", 6, lambda rng: rnn(rng, (3, 6, 2), 8, 6, "mse")),
    (
        "rnn-tanh-last-ce-t5",
        "tanh RNN, readout at the last step, cross-entropy",
        7,
        lambda rng: rnn(rng, (4, 8, 3), 16, 5, "cross_entropy", readout="last_step"),
    ),
    (
        "rnn-tanh-truncated-k2-sgd",
        "tanh RNN, truncated BPTT every 2 steps, one SGD step",
        8,
        lambda rng: rnn(rng, (3, 5, 2), 6, 6, "half_sse", truncate=2, train={"optimizer": "sgd", "lr": 0.05}),
    ),
    (
        # nets of about 11 to 14: e^z overflows float16 (largest 65504) above z = 11.09, so a
        # softmax that does not subtract the maximum returns inf/inf; torch's subtracts it
        "mlp-softmax-large-logits-mse-b8",
        "softmax output layer over logits near 12 (output bias 12), mse",
        9,
        lambda rng: mlp(rng, (4, 8, 5), 8, ("tanh", "softmax"), "mse", output_bias=12.0),
    ),
]


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else Path(__file__).resolve().parent.parent / "cases" / "precision"
    out.mkdir(parents=True, exist_ok=True)
    for stem, title, seed, build in NETWORKS:
        body = build(np.random.default_rng(seed))
        for dtype in DTYPES:
            case_id = f"lowp-{stem}-{dtype}"
            document = {
                "format": "refbp-case/1",
                "id": case_id,
                "title": f"{dtype}: {title}",
                "source": f"generated by scripts/make_precision_cases.py (numpy PCG64 seed {seed}); "
                "no published values",
                "tags": ["precision", dtype],
                "dtype": dtype,
                **body,
            }
            (out / f"{case_id}.json").write_text(json.dumps(document, indent=1) + "\n")
    print(f"wrote {len(NETWORKS) * len(DTYPES)} cases into {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
