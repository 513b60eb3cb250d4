"""Pipe servers that answer layer requests (docs/formats.md sections 11 and 12), for
tests/test_pipe_layers.py: `python tests/pipe_layer_servers.py BEHAVIOUR` serves
examples/layers/cs231n_layers.py through examples/pipe/python/serve_layers.py, correctly
(`correct`), or with one thing wrong:

  wrong_w      affine's w gradient 1.5 times too large        no_b      affine's b gradient left out
  error        an `error` message to every relu request       extra     a gradient `q` affine has not
  no_output    an answer without `output`                     nan       NaN in tanh's x gradient
  no_layers    a hello without `layers`                       bad_layers  a hello listing `conv2d`
  layers_only  a hello with `"kinds": []` (layers only)       out_in    weights (out, in), w^T inside
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples" / "pipe" / "python"))

import serve_adapter  # noqa: E402
import serve_layers  # noqa: E402

HELLO = {
    "type": "hello",
    "protocol": "refbp-pipe/1",
    "name": "layers-under-test",
    "version": "0",
    "kinds": ["mlp"],
    "dtypes": ["float64"],
    "quantities": ["outputs", "loss", "grads"],
}


def main(argv) -> int:
    behaviour = argv[1]
    layers, layout = serve_layers.load_layers(str(ROOT / "examples" / "layers" / "cs231n_layers.py"))
    if behaviour == "out_in":  # the same layers, told their weights come (out, in): transposed inside
        layout = "out_in"
        forward, backward = layers["affine"]
        layers["affine"] = (
            lambda x, w, b: forward(x, w.T, b),
            lambda dout, cache: (lambda g: (g[0], g[1].T, g[2]))(backward(dout, cache)),
        )
        del layers["rnn_step"], layers["rnn"]
    for line in sys.stdin:
        request = json.loads(line)
        if request["type"] == "hello":
            reply = dict(HELLO, **serve_layers.layers_hello(layers, layout))
            if behaviour == "no_layers":
                reply.pop("layers")
            if behaviour == "bad_layers":
                reply["layers"] = [*reply["layers"], "conv2d"]
            if behaviour == "layers_only":
                reply["kinds"] = []
        elif request["type"] != "layer":
            reply = {"type": "unsupported", "message": "layers only"}
        else:
            reply = serve_layers.layer_answer(layers, request, serve_adapter.array, serve_adapter.listed)
            misbehave(behaviour, request, reply)
        reply["id"] = request["id"]
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
    return 0


def misbehave(behaviour: str, request: dict, reply: dict) -> None:
    function, grads = request["function"], reply.get("grads", {})
    if behaviour == "wrong_w" and function == "affine" and "w" in grads:
        grads["w"] = (np.asarray(grads["w"]) * 1.5).tolist()
    if behaviour == "no_b" and function == "affine":
        grads.pop("b", None)
    if behaviour == "extra" and function == "affine" and grads:
        grads["q"] = [1.0]
    if behaviour == "nan" and function == "tanh" and "x" in grads:
        grads["x"][0][0] = float("nan")
    if behaviour == "no_output" and function == "sigmoid":
        reply.pop("output")
    if behaviour == "error" and function == "relu":
        reply.clear()
        reply.update({"type": "error", "message": "relu: out of memory"})


if __name__ == "__main__":
    sys.exit(main(sys.argv))
