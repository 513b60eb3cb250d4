"""A pipe server (protocol refbp-pipe/1, docs/formats.md section 11) around any Python adapter
factory, standard library and numpy only: what a user copies to put their own code behind
`refbp check --cmd`, and what `refbp bench check` measures the pipe with.

    refbp check --cmd "python examples/pipe/python/serve_adapter.py examples/numpy_mlp.py:factory"
    refbp check --cmd "python examples/pipe/python/serve_adapter.py --layers examples/layers/cs231n_layers.py" --layer

With `--layers FILE.py[:NAME]` it answers layer requests too (serve_layers.py: docs/formats.md
section 12); without a factory, layers only. With `--base64`, arrays travel as base64 of
little-endian float64 both ways (the hello asks for it; a big tensor costs ~11 bytes a number
instead of ~25).

It reads one request per line on stdin and writes one answer per line on stdout; everything
else it (or the implementation) prints goes to stderr.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import serve_layers  # beside this file: the layer answers (docs/formats.md section 12)

PROTOCOL = "refbp-pipe/1"
DTYPES = {"float64": "<f8", "float32": "<f4"}
# The numpy dtype each case dtype is computed in here (bfloat16 in float32: numpy has none of its own).
CARRIERS = {"float64": "float64", "float32": "float32", "float16": "float16", "bfloat16": "float32"}


def array(value, dtype):
    """A request's array (nested lists, or base64 of little-endian values) as numpy."""
    if isinstance(value, dict):
        data = np.frombuffer(base64.b64decode(value["base64"]), dtype=DTYPES[value["dtype"]])
        return data.reshape(value["shape"]).astype(dtype)
    return np.asarray(value, dtype=dtype)


BASE64 = "--base64" in sys.argv[1:]


def listed(value):
    """An answer's array as nested lists (numpy's floats, NaN written as NaN: refbp reads it), or
    with --base64 as {"dtype", "shape", "base64"}."""
    array = np.asarray(value, dtype=np.float64)
    if BASE64:
        return {
            "dtype": "float64",
            "shape": list(array.shape),
            "base64": base64.b64encode(array.astype("<f8").tobytes()).decode("ascii"),
        }
    return array.tolist()


def read_case(case: dict) -> dict:
    dtype = np.dtype(CARRIERS[case.get("dtype", "float64")])
    document = dict(case)
    document["params"] = {k: array(v, dtype) for k, v in case["params"].items()}
    document["inputs"] = array(case["inputs"], dtype)
    integer = (
        case["loss"] == "cross_entropy"
        and not isinstance(case["targets"], dict)
        and np.asarray(case["targets"]).dtype.kind in "iu"
    )
    document["targets"] = np.asarray(case["targets"], dtype=np.int64) if integer else array(case["targets"], dtype)
    if case.get("h0") is not None:
        document["h0"] = array(case["h0"], dtype)
    return document


def answer(factory, request: dict) -> dict:
    case = read_case(request["case"])
    implementation = factory(case)
    if implementation is None:
        return {"type": "unsupported", "message": f"{case['network']['kind']} networks are not supported"}
    p, x, t = case["params"], case["inputs"], case["targets"]
    out: dict = {"type": "answer"}
    want = request["want"]
    if "outputs" in want:
        out["outputs"] = listed(implementation.forward(p, x))
    if "loss" in want:
        out["loss"] = float(implementation.loss(p, x, t))
    if "grads" in want:
        out["grads"] = {k: listed(v) for k, v in implementation.gradients(p, x, t).items()}
    # the optional methods an adapter may lack: left out of the answer, refbp takes them as not provided
    if "intermediates" in want and callable(getattr(implementation, "intermediates", None)):
        out["intermediates"] = {k: listed(v) for k, v in implementation.intermediates(p, x).items()}
    if "error_signals" in want and callable(getattr(implementation, "error_signals", None)):
        out["error_signals"] = {k: listed(v) for k, v in implementation.error_signals(p, x, t).items()}
    if "train" in want and callable(getattr(implementation, "train", None)):
        after = implementation.train(p, x, t)
        out["params_after"] = {k: listed(v) for k, v in after.items()}
        as_dtype = {k: np.asarray(v, dtype=x.dtype) for k, v in after.items()}
        out["loss_after"] = float(implementation.loss(as_dtype, x, t))
    if "losses" in want:
        dtype = x.dtype
        points = [{k: array(v, dtype) for k, v in q.items()} for q in request["params_list"]]
        batch = getattr(implementation, "loss_batch", None)
        out["losses"] = [
            float(v) for v in (batch(points, x, t) if batch else [implementation.loss(q, x, t) for q in points])
        ]
    return out


def load(spec: str):
    path, _, name = spec.rpartition(":")
    module_spec = importlib.util.spec_from_file_location("served_implementation", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return getattr(module, name)


def declared(factory) -> dict:
    """What the factory declares it does not compute and what it supports (docs/formats.md section 8),
    for the hello: `not_provided` (patterns) and `capabilities`."""
    found = {key: getattr(factory, key, None) for key in ("not_provided", "capabilities")}
    if isinstance(found["not_provided"], str):
        found["not_provided"] = [found["not_provided"]]
    return {key: list(value) if key == "not_provided" else value for key, value in found.items() if value is not None}


def main(argv) -> int:
    options = argv[1:]
    spec = options[options.index("--layers") + 1] if "--layers" in options else None
    given = [a for a in options if not a.startswith("--") and a != spec]
    factory = load(given[0]) if given else None
    layers, layout = serve_layers.load_layers(spec) if spec else ({}, "out_in")
    stdout, sys.stdout = sys.stdout, sys.stderr  # what the implementation prints must not reach refbp
    for line in sys.stdin:
        request = json.loads(line)
        if request.get("type") == "hello":
            reply = {
                "type": "hello",
                "protocol": PROTOCOL,
                "name": f"numpy via pipe ({given[0] if given else spec})",
                "version": "1",
                "kinds": list(getattr(factory, "kinds", ("mlp", "rnn"))) if factory else [],
                "dtypes": list(CARRIERS),
                "arrays": "base64" if BASE64 else "lists",
                "quantities": ["outputs", "loss", "grads", "intermediates", "error_signals", "train", "losses"],
                **(serve_layers.layers_hello(layers, layout) if layers else {}),
                **declared(factory),
            }
        else:
            try:
                with np.errstate(all="ignore"):
                    reply = (
                        serve_layers.layer_answer(layers, request, array, listed)
                        if request.get("type") == "layer"
                        else answer(factory, request)
                    )
            except Exception as exc:  # an error message, not a crash: refbp fails this case and goes on
                reply = {"type": "error", "message": f"{type(exc).__name__}: {exc}"}
        reply["id"] = request.get("id")
        stdout.write(json.dumps(reply) + "\n")
        stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
