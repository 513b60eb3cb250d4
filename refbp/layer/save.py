"""`refbp fuzz --layer ... --save-failures DIR`: each failed input set written as a layer case
(`refbp-layer-case/1`, docs/formats.md section 12), its expected values torch autograd's in float64,
so that `refbp check --layer FILE.py DIR` (or `--cmd ... DIR`) checks it again, and any language
can read it. The first failure of each function is kept, at most `limit` in all."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from .functions import is_loss, parameters


def layer_case_document(function: str, layout: str, example, case_id: str, title: str, source: str) -> dict:
    """The layer case of one input set (the weights in `layout`), expected from torch in float64."""
    import torch

    from refbp.oracle.torch_layers import layer_reference  # torch: imported where a case is written

    output, grads = layer_reference(function, example.inputs, example.upstream, layout)

    def listed(value):
        array = np.asarray(value)
        return array.tolist() if array.ndim else float(array)

    document: dict[str, Any] = {
        "format": "refbp-layer-case/1",
        "id": case_id,
        "title": title,
        "source": source,
        "tags": ["layer", function, "regression"],
        "function": function,
    }
    if function in ("affine", "rnn_step", "rnn"):
        document["layout"] = layout
    document |= {
        "inputs": {name: listed(value) for name, value in example.inputs.items()},
        "upstream": float(example.upstream) if is_loss(function) else listed(example.upstream),
        "expected": {
            "output": listed(output),
            "grads": {n: listed(grads[n]) for n in parameters(function)},
            "reference": f"torch {torch.__version__} autograd, float64 (refbp.oracle.torch_layers.layer_reference)",
        },
    }
    return document


def save_failures(failed: list[tuple], verdicts: list, directory, limit: int, command: str) -> list[Path]:
    """Write the first failure of each function (at most `limit`) into `directory`; the paths written."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    seen = set()
    for (function, layout, example), verdict in zip(failed, verdicts):
        if function in seen or len(written) >= limit:
            continue
        seen.add(function)
        rows = [c for c in verdict.checks if not c.passed]
        what = f"{rows[0].reference} {rows[0].tensor}" if rows else (verdict.errors or ["an error"])[0][:80]
        case_id = "fuzz-" + re.sub(r"[^a-z0-9.-]+", "-", example.label.lower().replace("_", "-")).strip("-")
        document = layer_case_document(
            function,
            layout,
            example,
            case_id,
            f"found by refbp fuzz --layer: {what}",
            f"{command} (input set {example.label})",
        )
        path = directory / f"{case_id}.json"
        path.write_text(json.dumps(document, indent=1) + "\n")
        written.append(path)
    return written
