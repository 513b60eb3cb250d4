"""Writes plain torch's float64 results (refbp-result/1) of every shipped case for refbp verify; torch's conventions."""

# python examples/corpus/torch_results.py OUT_DIR [CASE_PATH ...]      (default: the shipped suite)
# refbp verify OUT_DIR --no-report
#
# `write_torch_results(folder, paths=None)` computes each case with
# examples/corpus/torch_autograd.py's adapter (`factory`: every MLP and RNN case in float64,
# a float32 case's numbers widened) and writes `<folder>/<case id>.json` with outputs, loss,
# grads and, for a case with training, params_after and loss_after (the loss of the trained
# parameters on the case's data). Cases are read with refbp's case loader (`cases`), which
# expands generated parameters and data into numbers exactly as `refbp cases export` does.

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent


def _torch_adapter_module():
    spec = importlib.util.spec_from_file_location("refbp_corpus_torch_autograd", HERE / "torch_autograd.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _arrays(document: dict) -> dict:
    """The explicit document with its arrays as numpy (float64; class indices int64)."""

    def array(value):
        a = np.asarray(value)
        return a.astype(np.int64) if a.dtype.kind in "iu" else a.astype(np.float64)

    document = dict(document)
    document["params"] = {name: array(value) for name, value in document["params"].items()}
    for key in ("inputs", "targets", "h0"):
        if document.get(key) is not None:
            document[key] = array(document[key])
    return document


def torch_result(document: dict, adapter_module=None) -> dict:
    """One refbp-result/1 document for an explicit case document (JSON lists or numpy arrays)."""
    module = adapter_module or _torch_adapter_module()
    case = _arrays(document)
    implementation = module.factory(case)
    params, inputs, targets = case["params"], case["inputs"], case["targets"]
    result = {
        "format": "refbp-result/1",
        "case": case["id"],
        "implementation": f"plain torch {torch.__version__} float64",
        "outputs": np.asarray(implementation.forward(params, inputs)).tolist(),
        "loss": float(implementation.loss(params, inputs, targets)),
        "grads": {
            name: np.asarray(g).tolist() for name, g in implementation.gradients(params, inputs, targets).items()
        },
    }
    if case.get("train"):
        after = implementation.train(params, inputs, targets)
        result["params_after"] = {name: np.asarray(v).tolist() for name, v in after.items()}
        result["loss_after"] = float(implementation.loss(after, inputs, targets))
    return result


def write_torch_results(folder, paths=None) -> list[Path]:
    """Write one result per case found under `paths` (default: the shipped suite) into `folder`."""
    from refbp.cases import SUITE_DIR, discover, load_case
    from refbp.cases.export import explicit_document

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    module = _torch_adapter_module()
    written = []
    for path in discover([Path(p) for p in paths] if paths else [SUITE_DIR]):
        case = load_case(path)
        result = torch_result(explicit_document(case), module)
        target = folder / f"{case.id}.json"
        target.write_text(json.dumps(result) + "\n")
        written.append(target)
    return written


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: torch_results.py OUT_DIR [CASE_PATH ...]")
    files = write_torch_results(sys.argv[1], sys.argv[2:] or None)
    print(f"{len(files)} results written to {sys.argv[1]}")
