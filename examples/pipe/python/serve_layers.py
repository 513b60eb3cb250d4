"""Layer answers over refbp-pipe/1 (docs/formats.md section 12), standard library and numpy only:
what a user copies to put CS231n-style layer functions behind `refbp check --cmd ... --layer`.

    refbp check --cmd "python examples/pipe/python/serve_adapter.py --layers examples/layers/cs231n_layers.py" --layer

FILE.py[:NAME] holds a dict NAME (default REFBP_LAYERS, as `refbp check --layer` reads it):
{"layout": "in_out" | "out_in" (or "preset": "cs231n": in_out), "layers": {function: (forward,
backward) or, for a loss, one function (x, y) -> (loss, dx)}}; functions by name or as callables.
forward(*inputs) -> (out, cache) with the inputs in CS231n's order; backward(dout, cache) -> the
gradients in that order. serve_adapter.py calls `layers_hello` and `layer_answer`.
"""

from __future__ import annotations

import importlib.util

import numpy as np

ORDER = {"affine": ("x", "w", "b"), "rnn_step": ("x", "h", "wx", "wh", "b"), "rnn": ("x", "h0", "wx", "wh", "b")}
LOSSES = ("half_sse", "sse", "mse", "bce", "cross_entropy", "softmax_cross_entropy")


def load_layers(spec: str):
    """({function: (forward, backward) or fused loss}, layout) of the declaration `spec`."""
    path, _, name = spec.partition(":")
    module_spec = importlib.util.spec_from_file_location("served_layers", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    declaration = getattr(module, name or "REFBP_LAYERS")
    layout = declaration.get("layout") or ("in_out" if declaration.get("preset") == "cs231n" else "out_in")

    def resolve(given):
        return getattr(module, given) if isinstance(given, str) else given

    layers = {
        function: tuple(map(resolve, given)) if isinstance(given, (tuple, list)) else resolve(given)
        for function, given in declaration["layers"].items()
    }
    return layers, layout


def layers_hello(layers: dict, layout: str) -> dict:
    """The hello's fields that say which layer requests it answers."""
    return {"layers": sorted(layers), "layout": layout}


def layer_answer(layers: dict, request: dict, array, listed) -> dict:
    """The answer to a `layer` request: `output`, and with want ["output", "grads"] the gradients of
    <output, upstream> by input name (`array` reads a request's array, `listed` writes an answer's)."""
    function = request["function"]
    if function not in layers:
        return {"type": "error", "message": f"no layer {function!r} here"}
    inputs = {
        name: (
            np.asarray(value, dtype=np.int64)
            if name == "y" and function in ("cross_entropy", "softmax_cross_entropy")
            else array(value, np.float64)
        )
        for name, value in request["inputs"].items()
    }
    wants_grads = "grads" in request["want"]
    upstream = array(request["upstream"], np.float64) if wants_grads else None
    given = layers[function]
    names = ("x", "y") if function in LOSSES else ORDER.get(function, ("x",))
    if function in LOSSES and not isinstance(given, tuple):  # one function (x, y) -> (loss, dx)
        loss, dx = given(inputs["x"], inputs["y"])
        answer = {"type": "answer", "output": float(loss)}
        if wants_grads:
            answer["grads"] = {"x": listed(np.asarray(dx) * float(upstream))}
        return answer
    forward, backward = given
    out, cache = forward(*[inputs[name] for name in names])
    answer = {"type": "answer", "output": float(out) if np.ndim(out) == 0 else listed(out)}
    if wants_grads:
        grads = backward(upstream, cache)
        grads = grads if isinstance(grads, tuple) else (grads,)
        answer["grads"] = {name: listed(g) for name, g in zip([n for n in names if n != "y"], grads)}
    return answer
