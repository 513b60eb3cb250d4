"""The adapter interface (docs/formats.md section 8) over a pipe: a factory whose implementations
ask the command, so that `refbp check` and `refbp fuzz` check it as they check `--impl`.

One `evaluate` request per case gives what refbp's first look needs at once (outputs, loss,
gradients, and what else the command offers: intermediates, error signals, training); the later
calls at the case's own values are answered from it. Calls at other values (the finite
differences of the implementation's own loss) are requests of their own, `losses` for many
parameter sets in one. The commands started are kept per command text in this process and
stopped at its end (close_all, also at exit).
"""

from __future__ import annotations

import atexit
import hashlib
import json
from typing import Any

import numpy as np

from .client import CommandError, PipeClient, Unsupported
from .protocol import BadArray, compute_dtype, decode_array, encode_case, encode_params, evaluate, layer_request

PIPE_PREFIX = "cmd:"  # load_factory("cmd:COMMAND"): the factory of a command (refbp.check.adapter)
DEFAULT_TIMEOUT = 60.0  # seconds per request, as --timeout's default (refbp.parallel.guarded)
MAIN = ("outputs", "loss", "grads")

_factories: dict[str, PipeFactory] = {}  # command -> its factory, for the life of this process
_exit_registered = False


class AnswerError(Exception):
    """An answer that lacks a quantity asked for, or whose array cannot be read: that case failed."""


class PipeFactory:
    """factory(document) -> PipeImplementation | None (a kind or dtype the hello does not list,
    or a case the command answers `unsupported`); `kinds`, `__version__` and `name` from its hello."""

    def __init__(self, command: str, timeout: float = DEFAULT_TIMEOUT):
        self.client = PipeClient(command, timeout)
        self.hello = self.client.start()
        self.name, self.__version__, self.kinds = self.hello.name, self.hello.version, self.hello.kinds
        # As an adapter's factory declares them (docs/formats.md section 8), from the hello: what it
        # does not compute (PARTIAL, never a failure; `--require all` fails it), and what it
        # supports (`fuzz` draws only that: its kinds and dtypes, and the hello's `capabilities`).
        self.not_provided = self.hello.not_provided
        self.capabilities = {
            "kinds": list(self.hello.kinds),
            "dtypes": list(self.hello.dtypes),
            **(self.hello.capabilities or {}),
        }
        self._last: tuple | None = None  # (key, main answer, quantities asked) of the last case asked

    def __call__(self, document: dict):
        dtype = document.get("dtype", "float64")
        if document["network"]["kind"] not in self.hello.kinds or dtype not in self.hello.dtypes:
            return None
        if compute_dtype(document, document["params"]) != dtype:
            # the float64 copy of a low-precision case, for the finite differences of its own loss only
            return PipeImplementation(self, document, None)
        key = _key(document)
        if self._last is None or self._last[0] != key:
            want = [*MAIN, *(q for q in ("intermediates", "error_signals") if q in self.hello.quantities)]
            if document.get("train") and "train" in self.hello.quantities:
                want.append("train")
            try:
                try:
                    self._last = key, self.ask(document, want), want
                except CommandError:
                    if "train" not in want:
                        raise
                    # An error while training costs the training rows only, as a raise in an adapter's
                    # train() does: the rest is asked without it, and train() asks on its own (its
                    # error then fails the training rows).
                    want = [q for q in want if q != "train"]
                    self._last = key, self.ask(document, want), want
            except Unsupported:
                return None
        return PipeImplementation(self, document, self._last[1], asked=self._last[2])

    def ask(self, document: dict, want: list[str], params=None, inputs=None, targets=None, params_list=None) -> dict:
        self.running()  # stopped (close_all) and asked again: load_factory's callers cache the factory
        base64 = self.hello.base64
        case = encode_case(document, params, inputs, targets, base64)
        listed = None if params_list is None else [encode_params(p, base64) for p in params_list]
        return self.client.ask(
            evaluate(0, case, want, listed), f"case {document.get('id', '?')}: evaluate {', '.join(want)}"
        )

    def ask_layer(self, function: str, inputs: dict, upstream, want: list[str]) -> dict:
        """The answer to a `layer` request (docs/formats.md section 12), its arrays as read: `output`
        (want ["output"]), and `grads` by input name with want ["output", "grads"]. A field
        missing or unreadable is AnswerError (that input set fails, naming it)."""
        self.running()
        message = layer_request(0, function, self.hello.layout, inputs, upstream, want, self.hello.base64)
        answer = self.client.ask(message, f"layer {function}: {', '.join(want)}")
        read: dict[str, Any] = {"output": PipeImplementation._array(answer, "output")}
        if "grads" in want:
            read["grads"] = PipeImplementation._arrays(answer, "grads")
        return read

    def running(self) -> None:
        """Its command started again if it was stopped."""
        if self.client.process is None:
            self.hello = self.client.start()

    def stop(self) -> None:
        self.client.stop()


class PipeImplementation:
    """forward, loss, gradients (and what the hello offers of intermediates, error_signals, train,
    loss_batch) of one case, answered by the command."""

    def __init__(self, factory: PipeFactory, document: dict, main: dict | None, asked: tuple | list = ()):
        self.factory, self.document, self.main, self.asked = factory, document, main, tuple(asked)
        offered = factory.hello.quantities
        # An optional quantity the hello offers but the case's first answer left out when asked
        # (the implementation behind the command has none for this case) is not provided, as an
        # adapter without that method: never a failure.
        answered = set(main) if main is not None else None

        def left_out(quantity: str, key: str = "") -> bool:
            """Asked for in the case's first request, and not in its answer (under `key`)."""
            return answered is not None and quantity in asked and (key or quantity) not in answered

        if "intermediates" not in offered or left_out("intermediates"):
            self.intermediates = None  # type: ignore[method-assign,assignment]  # not offered: None, as an adapter without it
        if "error_signals" not in offered or left_out("error_signals"):
            self.error_signals = None  # type: ignore[method-assign,assignment]  # not offered: None, as an adapter without it
        if "train" not in offered or (document.get("train") and left_out("train", "params_after")):
            self.train = None  # type: ignore[method-assign,assignment]  # not offered: None, as an adapter without it
        if "losses" not in offered:
            self.loss_batch = None  # type: ignore[method-assign,assignment]  # not offered: None, as an adapter without it

    def forward(self, params, inputs):
        return self._array(self._at(["outputs"], params, inputs), "outputs")

    def loss(self, params, inputs, targets):
        main = self.main
        if main is not None and "params_after" in main and self._same(params, inputs, targets, after=True):
            return self._number(main, "loss_after")
        return self._number(self._at(["loss"], params, inputs, targets), "loss")

    def gradients(self, params, inputs, targets):
        return self._arrays(self._at(["grads"], params, inputs, targets), "grads")

    def intermediates(self, params, inputs):
        return self._arrays(self._at(["intermediates"], params, inputs), "intermediates")

    def error_signals(self, params, inputs, targets):
        return self._arrays(self._at(["error_signals"], params, inputs, targets), "error_signals")

    def train(self, params, inputs, targets):
        return self._arrays(self._at(["train"], params, inputs, targets), "params_after")

    def loss_batch(self, params_list, inputs, targets):
        answer = self.factory.ask(
            self.document, ["losses"], inputs=inputs, targets=targets, params_list=list(params_list)
        )
        if "losses" not in answer:
            raise AnswerError(f"answer {answer['id']}: losses missing")
        return self._array(answer, "losses")

    # the answer to a question at these values: the case's first answer, or a request of its own
    def _at(self, want, params, inputs, targets=None) -> dict:
        if self.main is not None and set(want) <= set(self.asked) and self._same(params, inputs, targets):
            return self.main
        return self.factory.ask(self.document, want, params, inputs, targets)

    def _same(self, params, inputs, targets, after: bool = False) -> bool:
        document = self.document
        given = self._decoded("params_after") if after else document["params"]
        if given is None or set(params) != set(given):
            return False
        same = all(
            _equal(params[name], np.asarray(given[name]).astype(document["params"][name].dtype)) for name in given
        )
        return same and _equal(inputs, document["inputs"]) and (targets is None or _equal(targets, document["targets"]))

    def _decoded(self, key: str):
        assert self.main is not None, "read only once the case's first answer came back"
        try:
            return {name: decode_array(value) for name, value in dict(self.main.get(key) or {}).items()}
        except (BadArray, TypeError, ValueError):
            return None

    @staticmethod
    def _array(answer: dict, key: str) -> np.ndarray:
        if key not in answer:
            raise AnswerError(f"answer {answer['id']}: {key} missing")
        try:
            return decode_array(answer[key])
        except BadArray as exc:
            raise AnswerError(f"answer {answer['id']}: {key}: {exc}") from None

    @staticmethod
    def _arrays(answer: dict, key: str) -> dict:
        if not isinstance(answer.get(key), dict):
            raise AnswerError(f"answer {answer['id']}: {key} missing (an object of tensors by name)")
        arrays = {}
        for name, value in answer[key].items():
            try:
                arrays[name] = decode_array(value)
            except BadArray as exc:
                raise AnswerError(f"answer {answer['id']}: {key}.{name}: {exc}") from None
        return arrays

    @classmethod
    def _number(cls, answer: dict, key: str) -> float:
        value = cls._array(answer, key)
        if value.size != 1:
            raise AnswerError(f"answer {answer['id']}: {key}: {value.size} numbers, not one")
        return float(value.reshape(-1)[0])


def start(command: str, timeout: float = DEFAULT_TIMEOUT) -> PipeFactory:
    """The factory of `command`, its command started now if it is not running (its hello read:
    PipeBroken naming what is wrong); one per command for the life of this process."""
    global _exit_registered
    factory = _factories.get(command)
    if factory is None:
        if not _exit_registered:
            atexit.register(close_all)
            _exit_registered = True
        factory = _factories[command] = PipeFactory(command, timeout)
    else:
        factory.client.timeout = timeout
        factory.running()
    return factory


def pipe_factory(command: str) -> PipeFactory:
    """The factory of `command` (started now the first time; a stopped one starts again when asked)."""
    return _factories.get(command) or start(command)


def close_all() -> None:
    """Stop every command this process started (stdin closed, then SIGTERM, then SIGKILL)."""
    for factory in _factories.values():
        factory.stop()


def _key(document: dict) -> str:
    """The case's every part (two drawn examples may share their numbers but not their network)."""
    digest = hashlib.sha256()
    rest = {k: v for k, v in document.items() if k not in ("params", "inputs", "targets", "h0", "expected")}
    digest.update(json.dumps(rest, sort_keys=True, default=str).encode())
    for name in sorted(document["params"]):
        digest.update(name.encode() + np.ascontiguousarray(document["params"][name]).tobytes())
    for key in ("inputs", "targets", "h0"):
        if document.get(key) is not None:
            digest.update(key.encode() + np.ascontiguousarray(document[key]).tobytes())
    return digest.hexdigest()


def _equal(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and bool(np.array_equal(a, b))


__all__ = [
    "PIPE_PREFIX",
    "AnswerError",
    "CommandError",
    "PipeFactory",
    "PipeImplementation",
    "close_all",
    "pipe_factory",
    "start",
]
