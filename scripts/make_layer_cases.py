"""Write the layer cases, cases/layers/: one refbp-layer-case/1 file per function and input set.

    python scripts/make_layer_cases.py [OUT_DIR]      # default: cases/layers

The inputs are refbp.layer.functions' library (numpy PCG64 from the seed in each case's `source`):
every function (affine; each activation; each loss, softmax + cross-entropy fused too; the RNN
step; the RNN over time) at batch 1 and 4, with values of order one, large (sigmoid and tanh
saturated), tiny, and near the relu family's kink (within 1e-3 of 0, never at it), weights in
torch's (out, in) layout, plus three sets in CS231n's (in, out) layout; a random upstream gradient
(never all ones; a loss's one number in [0.5, 2]).

`expected` is torch autograd in float64 (refbp.oracle.torch_layers.layer_reference: torch.nn's own
activations and losses, the RNN step as torch.nn.RNN's cell), never refbp's code; the check
compares an answer with torch again at check time, and with these numbers. Each case records this
script and its command (`generator`) and the torch version (`expected.reference`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

from refbp.layer.functions import FUNCTIONS, VALUES, examples, parameters
from refbp.oracle.torch_layers import layer_reference

ROOT = Path(__file__).resolve().parents[1]
COMMAND = "python scripts/make_layer_cases.py"
# Input sets also written with weights (in, out), from another seed: affine, the step, the RNN.
IN_OUT = {("affine", "b4-ordinary"), ("rnn_step", "b4-ordinary"), ("rnn", "b1-ordinary")}
TITLES = {
    "ordinary": "values of order one",
    "large": "large values (5 to 30: saturating)",
    "tiny": "tiny values (1e-9 to 1e-7)",
    "near_kink": "values near the kink (1e-5 to 1e-3 from 0)",
}


def listed(value):
    array = np.asarray(value)
    return array.tolist() if array.ndim else float(array)


def case_document(function: str, example, layout: str, seed: int) -> dict:
    """The refbp-layer-case/1 document of one input set of the library."""
    batch, values = example.label.split("-")[-2:]
    output, grads = layer_reference(function, example.inputs, example.upstream, layout)
    suffix = "-in-out" if layout == "in_out" else ""
    document = {
        "format": "refbp-layer-case/1",
        "id": f"layer-{function}-{batch}-{values}{suffix}".replace("_", "-"),
        "title": f"{function}, batch {batch[1:]}, {TITLES[values]}" + (", weights (in, out)" if suffix else ""),
        "source": f"inputs: refbp.layer.functions' library (numpy PCG64 seed [{seed}, {batch[1:]}, {len(values)}, "
        f"{FUNCTIONS.index(function)}]); expected: torch autograd in float64",
        "tags": ["layer", function, values, f"batch-{batch[1:]}"],
        "function": function,
    }
    if function in ("affine", "rnn_step", "rnn"):
        document["layout"] = layout
    document |= {
        "inputs": {name: listed(value) for name, value in example.inputs.items()},
        "upstream": listed(example.upstream),
        "expected": {
            "output": listed(output),
            "grads": {name: listed(grads[name]) for name in parameters(function)},
            "reference": f"torch {torch.__version__} autograd, float64 (refbp.oracle.torch_layers.layer_reference)",
        },
        "generator": {"script": "scripts/make_layer_cases.py", "command": COMMAND},
    }
    return document


def documents() -> list[dict]:
    found = []
    for function in FUNCTIONS:
        for example in examples(function, "out_in", seed=0):
            found.append(case_document(function, example, "out_in", 0))
        for example in examples(function, "in_out", seed=1):
            if (function, "-".join(example.label.split("-")[-2:])) in IN_OUT:
                found.append(case_document(function, example, "in_out", 1))
    return found


def main(argv) -> int:
    out = Path(argv[1]) if len(argv) > 1 else ROOT / "cases" / "layers"
    out.mkdir(parents=True, exist_ok=True)
    written = documents()
    assert len({d["id"] for d in written}) == len(written)
    for document in written:
        (out / f"{document['id']}.json").write_text(json.dumps(document, indent=1) + "\n")
    kinds = sorted({d["function"] for d in written})
    print(f"{len(written)} layer cases of {len(kinds)} functions in {out} ({', '.join(VALUES)} values)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
