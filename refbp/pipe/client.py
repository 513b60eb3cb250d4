"""The conversation with the command: the hello, then one request and its answer at a time, each
answer read as JSON and checked for its id and type (docs/formats.md section 11).

What the command says wrongly about the conversation (not JSON, another id, no type) breaks the
pipe (PipeBroken: exit 2); what it says about a case is the caller's: an `error` message is
CommandError (a failed case, as an implementation that raises), `unsupported` is Unsupported.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import NoReturn

from .process import PipeBroken, PipeProcess
from .protocol import DTYPES as ALL_DTYPES
from .protocol import LAYER_FUNCTIONS, LAYOUTS, PROTOCOL, hello

DTYPES = ("float64", "float32")  # a hello's default; it may list float16 and bfloat16 too
KINDS = ("mlp", "rnn")
QUANTITY_NAMES = ("outputs", "loss", "grads", "intermediates", "error_signals", "train", "losses")


class CommandError(Exception):
    """The command answered an `error` message to a request: that case failed, the run goes on."""


class Unsupported(Exception):
    """The command answered `unsupported`: the case is declined (listed, never passed)."""


@dataclass
class Hello:
    """What the command said of itself."""

    name: str
    version: str = ""
    kinds: tuple = KINDS
    dtypes: tuple = DTYPES
    quantities: tuple = ("outputs", "loss", "grads")
    base64: bool = False  # it wants the requests' float arrays as base64
    extra: dict = field(default_factory=dict)
    layers: tuple = ()  # the layer functions it answers `layer` requests for (docs/formats.md section 12)
    layout: str = "out_in"  # how it lays out the weights of a layer request and its answer
    # What it does not compute, and what it supports, as an adapter's factory declares them
    # (`not_provided` patterns, `capabilities`: docs/formats.md section 8).
    not_provided: tuple = ()
    capabilities: dict | None = None


class PipeClient:
    def __init__(self, command: str, timeout: float):
        self.command, self.timeout = command, timeout
        self.process: PipeProcess | None = None
        self.next_id = 1
        self.hello: Hello | None = None

    def start(self) -> Hello:
        """Start the command and read its hello (PipeBroken naming what is wrong)."""
        try:
            self.process = PipeProcess(self.command)
            answer = self._exchange(hello(), "the hello")
            self.hello = read_hello(answer)
        except PipeBroken as exc:
            self.stop()
            raise PipeBroken(f"--cmd {self.command!r}: {exc}") from None
        return self.hello

    def ask(self, message: dict, what: str) -> dict:
        """The answer to `message` (its id set here); `what` names the case and the request in
        any error (`case mlp-xor: evaluate outputs, loss, grads`)."""
        message = {**message, "id": self.next_id}
        self.next_id += 1
        try:
            answer = self._exchange(message, what)
        except PipeBroken as exc:
            raise PipeBroken(f"--cmd {self.command!r}: {what}: {exc}") from None
        kind = answer["type"]
        if kind == "error":
            raise CommandError(_text(answer.get("message")) or "an error message without a message")
        if kind == "unsupported":
            raise Unsupported(_text(answer.get("message")))
        if kind != "answer":
            raise PipeBroken(
                f"--cmd {self.command!r}: {what}: answered type {kind!r} (expected answer, error or unsupported)"
            )
        return answer

    def _exchange(self, message: dict, what: str) -> dict:
        assert self.process is not None, "an exchange happens only while the command runs (start() made it)"
        line = self.process.exchange((json.dumps(message, separators=(",", ":")) + "\n").encode(), self.timeout)
        try:
            answer = json.loads(line)
        except (ValueError, UnicodeDecodeError):
            shown = line[:80].decode("utf-8", "replace")
            raise PipeBroken(
                f"line {self.process.lines_read} of its stdout is not JSON: {shown!r}"
                f"{'...' if len(line) > 80 else ''} (anything but answers goes to stderr)"
            ) from None
        if not isinstance(answer, dict):
            raise PipeBroken(f"line {self.process.lines_read} of its stdout is not a JSON object")
        if answer.get("id") != message["id"]:
            raise PipeBroken(f"answered id {answer.get('id')!r} to request {message['id']}")
        if answer.get("type") not in ("hello", "answer", "error", "unsupported"):
            raise PipeBroken(f"answer {message['id']} has no known type ({answer.get('type')!r})")
        if message["type"] == "hello" and answer["type"] == "error":
            raise PipeBroken(f"refused the hello: {_text(answer.get('message'))}")
        return answer

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None


def read_hello(answer: dict) -> Hello:
    """The command's hello, checked field by field (PipeBroken naming the field)."""

    def fail(problem: str) -> NoReturn:
        raise PipeBroken(f"its hello: {problem}")

    if answer.get("type") != "hello":
        fail(f"type {answer.get('type')!r} (expected hello)")
    if answer.get("protocol") != PROTOCOL:
        fail(f"protocol {answer.get('protocol')!r}: refbp speaks {PROTOCOL}")
    name = answer.get("name")
    if not isinstance(name, str) or not name:
        fail("name: missing (a non-empty string)")
    version = answer.get("version", "")
    if not isinstance(version, str):
        fail("version: not a string")
    layers = answer.get("layers", [])
    if not isinstance(layers, list) or any(v not in LAYER_FUNCTIONS for v in layers):
        fail(f"layers: {layers!r} is not a list of {', '.join(LAYER_FUNCTIONS)}")
    layout = answer.get("layout", "out_in")
    if layout not in LAYOUTS:
        fail(f"layout: {layout!r} is not out_in or in_out")
    lists = {}
    for key, allowed, default in (
        ("kinds", KINDS, KINDS),
        ("dtypes", ALL_DTYPES, DTYPES),
        ("quantities", QUANTITY_NAMES, ("outputs", "loss", "grads")),
    ):
        value = answer.get(key, list(default))
        empty_allowed = key == "kinds" and bool(layers)  # a command of layers only: `"kinds": []`
        if not isinstance(value, list) or (not value and not empty_allowed) or any(v not in allowed for v in value):
            fail(f"{key}: {value!r} is not a non-empty list of {', '.join(allowed)}")
        lists[key] = tuple(value)
    missing = [q for q in ("outputs", "loss", "grads") if q not in lists["quantities"]]
    if missing and lists["kinds"]:
        fail(f"quantities: {', '.join(missing)} missing (every implementation gives outputs, loss and grads)")
    arrays = answer.get("arrays", "lists")
    if arrays not in ("lists", "base64"):
        fail(f"arrays: {arrays!r} is not lists or base64")
    not_provided = answer.get("not_provided", [])
    if not isinstance(not_provided, list) or any(not isinstance(p, str) or not p for p in not_provided):
        fail(f"not_provided: {not_provided!r} is not a list of patterns (strings, docs/formats.md section 8)")
    capabilities = answer.get("capabilities")
    if capabilities is not None and not isinstance(capabilities, dict):
        fail(f"capabilities: {capabilities!r} is not an object (docs/formats.md section 8)")
    return Hello(
        name,
        version,
        lists["kinds"],
        lists["dtypes"],
        lists["quantities"],
        arrays == "base64",
        layers=tuple(layers),
        layout=layout,
        not_provided=tuple(not_provided),
        capabilities=capabilities,
    )


def _text(value) -> str:
    return (str(value).strip().splitlines() or [""])[0][:300] if value is not None else ""
