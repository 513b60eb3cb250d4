"""Loading `refbp-layer-case/1` documents: one layer's function, inputs, upstream gradient and
expected output and gradients, as data (docs/formats.md section 12).

The JSON Schema (`cases/schemas/refbp-layer-case-1.schema.json`) checks fields, types and names;
this module checks what a schema cannot: the inputs the function takes and their shapes (from the
weights' layout), class ranges, the upstream gradient's shape (never all ones, never all zeros)
and the expected values' shapes. Every problem is a `CaseError` naming file, field and problem.
Like the rest of `refbp.cases`, nothing here imports torch or refbp: the data must not depend on
the code it checks.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from .arrays import first_non_finite, index_text, to_array
from .jsonio import MAX_FILE_BYTES, CaseError, read_json, show
from .schema import schema_document, schema_file, validate

FORMAT = "refbp-layer-case/1"
# The layer formats: a folder of cases may hold layer cases beside whole networks, a folder of
# results layer results; refbp.cases.load.discover sets them apart by their `format` field.
LAYER_PREFIXES = ("refbp-layer-case", "refbp-layer-result")
ACTIVATIONS = ("identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "softmax")
LOSSES = ("half_sse", "sse", "mse", "bce", "cross_entropy", "softmax_cross_entropy")
FUNCTIONS = ("affine", *ACTIVATIONS, *LOSSES, "rnn_step", "rnn")  # refbp.layer.functions.FUNCTIONS
WEIGHTED = ("affine", "rnn_step", "rnn")  # the functions with weight matrices, laid out out_in or in_out
WEIGHTS = ("w", "wx", "wh")
CLASS_TARGETS = ("cross_entropy", "softmax_cross_entropy")
# fail(field, problem): raises the CaseError of this file
Fail = Callable[[str, str], NoReturn]


def inputs_of(function: str) -> tuple[str, ...]:
    """The inputs of `function`, in CS231n's argument order (a loss's targets `y` last)."""
    if function == "affine":
        return ("x", "w", "b")
    if function == "rnn_step":
        return ("x", "h", "wx", "wh", "b")
    if function == "rnn":
        return ("x", "h0", "wx", "wh", "b")
    return ("x", "y") if function in LOSSES else ("x",)


def gradients_of(function: str) -> tuple[str, ...]:
    """The inputs whose gradients the backward gives (every input but a loss's targets)."""
    return tuple(name for name in inputs_of(function) if name != "y")


@dataclass(frozen=True)
class LayerCase:
    """One layer case: `inputs` by name (class targets int64), `upstream` (the output's shape; a
    number for a loss), and the expected `output` (a loss: its value) and `grads` by input name."""

    id: str
    function: str
    layout: str
    inputs: dict[str, np.ndarray]
    upstream: np.ndarray
    output: np.ndarray
    grads: dict[str, np.ndarray]
    title: str = ""
    source: str = ""
    tags: tuple[str, ...] = ()
    path: Path | None = None
    document: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def batch(self) -> int:
        return int(self.inputs["x"].shape[0])


def layer_format(path: str | Path) -> str:
    """The `format` of a layer case or layer result file ("" for any other file, or one that
    cannot be read: its loader says why). Read only when the text names a layer format at all; a
    path that is not a regular file (a FIFO would block the read) is left to the loader too."""
    try:
        if not Path(path).is_file() or Path(path).stat().st_size > MAX_FILE_BYTES:
            return ""
        data = Path(path).read_bytes()
    except OSError:
        return ""
    if b"refbp-layer-" not in data:
        return ""
    try:
        document = json.loads(data)
    except (ValueError, RecursionError):
        return ""
    given = document.get("format") if isinstance(document, dict) else None
    return given if isinstance(given, str) and given.startswith(LAYER_PREFIXES) else ""


def load_layer_case(path: str | Path) -> LayerCase:
    path = Path(path)
    return parse_layer_case(read_json(path), path)


def parse_layer_case(document: Any, path: str | Path | None = None) -> LayerCase:
    """Validate a layer case document (a dict); CaseError naming file, field and problem."""
    where_from = Path(path) if path is not None else None

    def fail(where: str, problem: str) -> NoReturn:
        raise CaseError(where_from, where, problem)

    if not isinstance(document, dict):
        fail("", f"a layer case must be a JSON object, not {type(document).__name__}")
    if "format" in document and document["format"] != FORMAT:
        fail("format", f"unknown format {show(document['format'])} (this reader knows {FORMAT!r})")
    problem = first_non_finite(document)
    if problem is not None:
        fail(*problem)
    validate(document, "layer-case", where_from)
    if where_from is not None and where_from.stem != document["id"]:
        fail("id", f"{document['id']!r} differs from the file name {where_from.name!r}")
    function = document["function"]
    layout = document.get("layout", "out_in")
    if "layout" in document and function not in WEIGHTED:
        fail("layout", f"{function} has no weights to lay out (layout belongs to {', '.join(WEIGHTED)})")
    inputs = _inputs(document["inputs"], function, layout, fail, where_from)
    shape = output_shape(function, inputs, layout)
    upstream = _upstream(document["upstream"], shape, fail, where_from)
    expected = document["expected"]
    output = (
        to_array(expected["output"], where_from, "expected.output", shape=shape)
        if shape
        else _number(expected["output"], "expected.output", fail)
    )
    given = set(expected["grads"])
    for name in sorted(given - set(gradients_of(function))):
        fail(
            f"expected.grads.{name}",
            f"{function} has no gradient {name!r} (it has: {', '.join(gradients_of(function))})",
        )
    for name in gradients_of(function):
        if name not in given:
            fail(f"expected.grads.{name}", f"is missing (shape {list(inputs[name].shape)})")
    grads = {
        name: to_array(expected["grads"][name], where_from, f"expected.grads.{name}", shape=inputs[name].shape)
        for name in gradients_of(function)
    }
    return LayerCase(
        id=document["id"],
        function=function,
        layout=layout,
        inputs=inputs,
        upstream=upstream,
        output=output,
        grads=grads,
        title=document.get("title", ""),
        source=document.get("source", ""),
        tags=tuple(document.get("tags", [])),
        path=where_from,
        document=document,
    )


def export_layer_case(case: LayerCase, directory: str | Path) -> Path:
    """Write `<directory>/<id>.json`: the case as read (a layer case is explicit already)."""
    path = Path(directory) / f"{case.id}.json"
    path.write_text(json.dumps(case.document, indent=1) + "\n")
    return path


def write_schema(directory: str | Path, name: str) -> Path:
    """Write the schema `name` beside exported files (a `*.schema.json` is never read as a case)."""
    path = Path(directory) / schema_file(name).name
    try:
        path.write_text(json.dumps(schema_document(name), indent=1) + "\n")
    except OSError as exc:
        raise CaseError(directory, "", f"cannot write into this folder: {exc.strerror or exc}") from None
    return path


def output_shape(function: str, inputs: dict[str, np.ndarray], layout: str) -> tuple[int, ...]:
    """The shape of the function's output (a loss: () for its one number)."""
    x = inputs["x"]
    if function in LOSSES:
        return ()
    if function == "affine":
        return (x.shape[0], inputs["w"].shape[0 if layout == "out_in" else 1])
    if function == "rnn_step":
        return tuple(inputs["h"].shape)
    if function == "rnn":
        return tuple(x.shape[:2]) + (inputs["h0"].shape[1],)
    return tuple(x.shape)


def _inputs(given: dict[str, Any], function: str, layout: str, fail: Fail, path: Path | None) -> dict[str, np.ndarray]:
    names = inputs_of(function)
    for name in given:
        if name not in names:
            fail(f"inputs.{name}", f"{function} takes no input {name!r} (it takes: {', '.join(names)})")
    for name in names:
        if name not in given:
            fail(f"inputs.{name}", "is missing")
    arrays = {name: to_array(given[name], path, f"inputs.{name}") for name in names if name != "y"}
    for name, rank in _ranks(function).items():
        if arrays[name].ndim != rank:
            fail(f"inputs.{name}", f"shape {list(arrays[name].shape)}: {function}'s {name} has {rank} axes")
    x = arrays["x"]
    if function in WEIGHTED:
        _weights(function, arrays, layout, fail)
    if function in LOSSES:
        arrays["y"] = _targets(given["y"], function, x, fail, path)
    return arrays


def _ranks(function: str) -> dict[str, int]:
    if function == "affine":
        return {"x": 2, "w": 2, "b": 1}
    if function in ("rnn_step", "rnn"):
        state = "h" if function == "rnn_step" else "h0"
        return {"x": 2 if function == "rnn_step" else 3, state: 2, "wx": 2, "wh": 2, "b": 1}
    return {"x": 2}


def _weights(function: str, arrays: dict[str, np.ndarray], layout: str, fail: Fail) -> None:
    """Each weight's shape against x, the state and the bias (`layout`: out_in as torch, in_out as CS231n)."""
    width = arrays["x"].shape[-1]

    def wants(name: str, n_in: int, n_out: int) -> None:
        shape = (n_out, n_in) if layout == "out_in" else (n_in, n_out)
        if arrays[name].shape != shape:
            fail(
                f"inputs.{name}",
                f"shape {list(arrays[name].shape)} does not match the expected shape {list(shape)} "
                f"(layout {layout}: {'(out, in)' if layout == 'out_in' else '(in, out)'})",
            )

    if function == "affine":
        n_out = arrays["w"].shape[0 if layout == "out_in" else 1]
        wants("w", width, n_out)
        if arrays["b"].shape != (n_out,):
            fail("inputs.b", f"shape {list(arrays['b'].shape)} does not match the expected shape [{n_out}]")
        return
    state = arrays["h" if function == "rnn_step" else "h0"]
    hidden = state.shape[1]
    if state.shape[0] != arrays["x"].shape[0]:
        fail(
            f"inputs.{'h' if function == 'rnn_step' else 'h0'}",
            f"batch {state.shape[0]} differs from x's batch {arrays['x'].shape[0]}",
        )
    wants("wx", width, hidden)
    wants("wh", hidden, hidden)
    if arrays["b"].shape != (hidden,):
        fail("inputs.b", f"shape {list(arrays['b'].shape)} does not match the expected shape [{hidden}]")


def _targets(value: Any, function: str, x: np.ndarray, fail: Fail, path: Path | None) -> np.ndarray:
    batch, classes = x.shape
    if function in CLASS_TARGETS:
        y = to_array(value, path, "inputs.y", shape=(batch,))
        for bad, problem in (
            (y != np.round(y), "is not a whole number"),
            ((y < 0) | (y >= classes), f"is outside [0, {classes - 1}]"),
        ):
            if bad.any():
                where = np.unravel_index(int(np.argmax(bad)), y.shape)
                fail(f"inputs.y{index_text(where)}", f"class index {y[where]:g} {problem}")
        return y.astype(np.int64)
    y = to_array(value, path, "inputs.y", shape=x.shape)
    if function == "bce":
        for name, array, low_open in (("x", x, True), ("y", y, False)):
            bad = ((array <= 0) | (array >= 1)) if low_open else ((array < 0) | (array > 1))
            if bad.any():
                where = np.unravel_index(int(np.argmax(bad)), array.shape)
                fail(
                    f"inputs.{name}{index_text(where)}",
                    f"{array[where]:g} is outside {'(0, 1)' if low_open else '[0, 1]'} (bce's {name})",
                )
    return y


def _upstream(value: Any, shape: tuple[int, ...], fail: Fail, path: Path | None) -> np.ndarray:
    if not shape:  # a loss: the number its gradient is weighted by
        number = _number(value, "upstream", fail)
        if number == 0.0:
            fail("upstream", "0 makes every gradient 0: it checks nothing")
        return number
    array = to_array(value, path, "upstream", shape=shape)
    if not np.any(array):
        fail("upstream", "all zeros: every gradient would be 0, checking nothing")
    if array.size > 1 and np.all(array == 1.0):
        fail("upstream", "all ones hides a transposed or unscaled gradient: use random numbers")
    return array


def _number(value: Any, where: str, fail: Fail) -> np.ndarray:
    if isinstance(value, list):
        fail(where, "a loss's value is one number, not a list")
    return np.asarray(float(value))
