"""A layer declaration: which functions a module's forward/backward pairs implement, and how their
arguments and results map (docs/layers.md). Two styles, with presets for the common ones:

    REFBP_LAYERS = {"preset": "cs231n", "layers": {
        "affine": ("affine_forward", "affine_backward"),     # forward -> (out, cache)
        "relu": ("relu_forward", "relu_backward"),           # backward(dout, cache) -> grads
        "softmax_cross_entropy": "softmax_loss"}}            # one function: (x, y) -> (loss, dx)

    REFBP_LAYERS = {"preset": "numpy-ml", "layers": {"affine": FullyConnected, "tanh": Tanh}}
        # an object: make(n_in, n_out) (affine) or make(); forward(x), then backward(dout); the
        # parameters written into it and its gradients read from it at the preset's attributes

This module binds a declaration to calls `(inputs, upstream) -> (output, {input: gradient})` in
refbp's names; it judges nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..parallel import watch
from .functions import FUNCTIONS, is_loss, parameters

PRESETS: dict[str, dict[str, Any]] = {
    "cs231n": {"style": "functional", "layout": "in_out"},
    "numpy-ml": {
        "style": "object",
        "layout": "in_out",
        "params": {"w": "parameters.W", "b": "parameters.b"},
        "grads": {"w": "gradients.W", "b": "gradients.b"},
        "bias_row": True,
    },
    "nnfs": {
        "style": "object",
        "layout": "in_out",
        "params": {"w": "weights", "b": "biases"},
        "grads": {"w": "dweights", "b": "dbiases"},
        "bias_row": True,
        "output": "output",
        "input_grad": "dinputs",
    },
    "object": {"style": "object", "layout": "out_in", "params": {"w": "W", "b": "b"}, "grads": {"w": "dW", "b": "db"}},
}
KEYS = ("preset", "style", "layout", "layers", "params", "grads", "bias_row", "output", "input_grad")


class DeclarationError(ValueError):
    """A declaration refbp cannot use (bad usage, exit 2), one line naming what is wrong."""


@dataclass(frozen=True)
class Bound:
    function: str
    call: Callable  # (inputs, upstream) -> (output, {input name: gradient})
    layout: str
    forward: Callable  # (inputs) -> output: its own forward alone, for finite differences


def bind(declaration: dict, module=None) -> list[Bound]:
    """The declared layers as calls; names given as strings are looked up in `module`."""
    if not isinstance(declaration, dict):
        raise DeclarationError(f"the declaration must be a dict, not {type(declaration).__name__}")
    unknown = sorted(set(declaration) - set(KEYS))
    if unknown:
        raise DeclarationError(f"unknown keys {', '.join(unknown)} (known: {', '.join(KEYS)})")
    preset = declaration.get("preset")
    if preset is not None and preset not in PRESETS:
        raise DeclarationError(f"preset {preset!r}: known presets are {', '.join(PRESETS)}")
    chosen: dict[str, Any] = PRESETS[preset] if preset is not None else {"style": "functional", "layout": "out_in"}
    settings = {**chosen, **declaration}
    if settings.get("layout") not in ("out_in", "in_out"):
        raise DeclarationError(f"layout {settings.get('layout')!r}: out_in (torch's) or in_out (CS231n's)")
    layers = settings.get("layers")
    if not isinstance(layers, dict) or not layers:
        raise DeclarationError("`layers` must map function names (affine, relu, ...) to what implements them")
    bound = []
    for function, given in layers.items():
        if function not in FUNCTIONS:
            raise DeclarationError(
                f"layers: {function!r} is not a function refbp checks (known: {', '.join(FUNCTIONS)})"
            )
        if settings["style"] == "functional":
            call = _functional(function, given, module)
        elif settings["style"] == "object":
            call = _object(function, _resolve(given, module, function), settings)
        else:
            raise DeclarationError(f"style {settings['style']!r}: functional or object")
        bound.append(Bound(function, call, settings["layout"], lambda inputs, call=call: call(inputs, None)[0]))
    return bound


def _resolve(given, module, function: str):
    if isinstance(given, str):
        found = getattr(module, given, None)
        if not callable(found):
            raise DeclarationError(f"layers: {function}: {given!r} is not a callable of the module")
        return found
    if not callable(given):
        raise DeclarationError(f"layers: {function}: {given!r} is not callable")
    return given


def _functional(function: str, given, module) -> Callable:
    names = parameters(function)
    if is_loss(function) and not isinstance(given, (tuple, list)):
        fused = _resolve(given, module, function)  # (x, y) -> (loss, dx), as CS231n's softmax_loss

        def fused_call(inputs, upstream):  # its dx is dloss/dx: refbp weights it by the upstream number
            loss, dx = watch.call("forward", fused, inputs["x"].copy(), inputs["y"].copy())
            return loss, {"x": dx if upstream is None else np.asarray(dx, dtype=np.float64) * float(upstream)}

        return fused_call
    if not isinstance(given, (tuple, list)) or len(given) != 2:
        raise DeclarationError(f"layers: {function}: a (forward, backward) pair (or, for a loss, one function)")
    forward, backward = (_resolve(g, module, function) for g in given)
    arguments = ("x", "y") if is_loss(function) else names

    def call(inputs, upstream):  # upstream None: the forward alone
        out, cache = watch.call("forward", forward, *[inputs[n].copy() for n in arguments])
        if upstream is None:
            return out, {}
        grads = watch.call("gradients", backward, np.array(upstream, copy=True), cache)
        grads = (grads,) if not isinstance(grads, (tuple, list)) else tuple(grads)
        return out, dict(zip(names, grads))

    return call


def _object(function: str, make, settings: dict) -> Callable:
    if is_loss(function) or function.startswith("rnn"):
        raise DeclarationError(
            f"layers: {function}: the object style covers affine and the activations "
            "(declare losses and the RNN in the functional style)"
        )

    def call(inputs, upstream):
        if function == "affine":
            w = inputs["w"]
            n_in, n_out = w.shape[::-1] if settings["layout"] == "out_in" else w.shape
            layer = watch.call("factory", make, n_in, n_out)
            for name in ("w", "b"):
                value = inputs[name].reshape(1, -1) if name == "b" and settings.get("bias_row") else inputs[name]
                _put(layer, settings["params"][name], value.copy())
        else:
            layer = watch.call("factory", make)
        out = watch.call("forward", layer.forward, inputs["x"].copy())
        if settings.get("output"):
            out = _get(layer, settings["output"])
        if upstream is None:
            return out, {}
        dx = watch.call("gradients", layer.backward, np.array(upstream, copy=True))
        if settings.get("input_grad"):
            dx = _get(layer, settings["input_grad"])
        grads = {"x": dx}
        if function == "affine":
            grads |= {name: np.asarray(_get(layer, settings["grads"][name])) for name in ("w", "b")}
            if settings.get("bias_row") and np.size(grads["b"]) == np.size(inputs["b"]):
                grads["b"] = grads["b"].reshape(np.shape(inputs["b"]))
        return out, grads

    return call


def _get(obj, path: str):
    """obj.a.b, or obj.a["b"] where a is a dict (numpy-ml keeps `parameters` and `gradients` dicts)."""
    for part in path.split("."):
        obj = obj[part] if isinstance(obj, dict) else getattr(obj, part)
    return obj


def _put(obj, path: str, value) -> None:
    *head, last = path.split(".")
    for part in head:
        obj = obj[part] if isinstance(obj, dict) else getattr(obj, part)
    if isinstance(obj, dict):
        obj[last] = value
    else:
        setattr(obj, last, value)
