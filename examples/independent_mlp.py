#!/usr/bin/env python3
"""A second, independent MLP implementation that `refbp verify` can judge.

It imports nothing from refbp: it reads exported cases (`refbp cases export DIR`), computes
outputs, loss and gradients for the MLP cases with sigmoid/tanh/identity layers and the
squared-error losses, and writes one refbp-result/1 document per case. Cases it cannot
handle are skipped. It stands for "your implementation, in any language":

    refbp cases export exported/
    python examples/independent_mlp.py exported/ results/
    refbp verify results/*.json --cases exported/
"""

import json
import sys
from pathlib import Path

import numpy as np

ACTIVATIONS = {
    "identity": (lambda e: e, lambda f: np.ones_like(f)),
    "sigmoid": (lambda e: 1 / (1 + np.exp(-e)), lambda f: f * (1 - f)),
    "tanh": (np.tanh, lambda f: 1 - f * f),
}
LOSS_GRADIENT = {  # dE/dy for E(y, t)
    "half_sse": lambda y, t: y - t,
    "sse": lambda y, t: 2 * (y - t),
    "mse": lambda y, t: 2 * (y - t) / y.size,
}
LOSS = {
    "half_sse": lambda y, t: 0.5 * np.sum((t - y) ** 2),
    "sse": lambda y, t: np.sum((t - y) ** 2),
    "mse": lambda y, t: np.mean((t - y) ** 2),
}


def result(case: dict) -> dict | None:
    network = case["network"]
    if (
        network["kind"] != "mlp"
        or case["loss"] not in LOSS
        or any(a not in ACTIVATIONS for a in network["activations"])
    ):
        return None
    params = {k: np.array(v) for k, v in case["params"].items()}
    x, t = np.array(case["inputs"]), np.array(case["targets"])
    depth = len(network["activations"])
    outs = [x]
    for i, name in enumerate(network["activations"]):
        e = outs[-1] @ params[f"layers.{i}.weight"].T + params.get(f"layers.{i}.bias", 0.0)
        outs.append(ACTIVATIONS[name][0](e))
    y = outs[-1]
    grads = {}
    delta = LOSS_GRADIENT[case["loss"]](y, t)  # dE/dout of the last layer
    for i in reversed(range(depth)):
        delta = delta * ACTIVATIONS[network["activations"][i]][1](outs[i + 1])  # dE/dnet
        grads[f"layers.{i}.weight"] = (delta.T @ outs[i]).tolist()
        if network.get("bias", True):
            grads[f"layers.{i}.bias"] = delta.sum(axis=0).tolist()
        delta = delta @ params[f"layers.{i}.weight"]
    return {
        "format": "refbp-result/1",
        "case": case["id"],
        "implementation": "examples/independent_mlp.py",
        "outputs": y.tolist(),
        "loss": float(LOSS[case["loss"]](y, t)),
        "grads": grads,
    }


def main(cases_dir: str, results_dir: str) -> int:
    out = Path(results_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = 0
    for path in sorted(Path(cases_dir).glob("*.json")):
        case = json.loads(path.read_text())
        if case.get("format") != "refbp-case/1":  # the folder also holds the case schema
            continue
        document = result(case)
        if document is not None:
            (out / path.name).write_text(json.dumps(document))
            written += 1
    print(f"{written} results written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
