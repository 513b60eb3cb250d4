"""A program's layers over a pipe (`refbp check --cmd` and `refbp fuzz --cmd`, docs/formats.md
section 12): each function its hello lists in `layers` becomes a Bound whose forward and backward
are `layer` requests, so that refbp.layer checks it as it checks a Python layers module (torch
autograd in float64, finite differences of its own forward, the case's expected values).

What the command says wrongly about a layer (an `error` message, a missing or unreadable field)
raises an Exception: that input set fails, naming it. A broken conversation is PipeBroken (a
BaseException: it ends the run, exit 2)."""

from __future__ import annotations

from ..pipe.factory import PipeFactory
from .declaration import Bound
from .functions import parameters


def pipe_layers(factory: PipeFactory, functions=None) -> list[Bound]:
    """A Bound per layer function the command's hello lists (or those of `functions` it lists)."""
    offered = factory.hello.layers
    chosen = [f for f in offered if functions is None or f in functions]
    return [_bound(factory, function) for function in chosen]


def _bound(factory: PipeFactory, function: str) -> Bound:
    names = parameters(function)

    def call(inputs, upstream):
        if upstream is None:
            return factory.ask_layer(function, inputs, None, ["output"])["output"], {}
        answer = factory.ask_layer(function, inputs, upstream, ["output", "grads"])
        grads = answer["grads"]
        unknown = sorted(set(grads) - set(names))
        if unknown:
            raise ValueError(
                f"its answer's grads name {', '.join(unknown)}: {function} has gradients {', '.join(names)} only"
            )
        return _scalar(answer["output"]), grads

    return Bound(function, call, factory.hello.layout, lambda inputs: _scalar(call(inputs, None)[0]))


def _scalar(value):
    """A loss's value as one number where the answer gave one (a 1-entry array is read as it)."""
    return float(value.reshape(-1)[0]) if getattr(value, "ndim", 1) == 0 else value
