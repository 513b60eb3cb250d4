"""The messages of `refbp-pipe/1` (docs/formats.md section 11): building refbp's requests and
reading the command's arrays. Plain data in and out; no process, no I/O.

An array travels as nested lists of numbers, or as {"dtype": "float64"|"float32", "shape": [...],
"base64": "..."} of its little-endian values in C order (a big tensor as text costs ~25 bytes a
number; as base64, 11 or 5.3). Requests use base64 only where the command's hello asked for it.
"""

from __future__ import annotations

import base64

import numpy as np

PROTOCOL = "refbp-pipe/1"
# The quantities a request may want, and what each answer field is.
QUANTITIES = ("outputs", "loss", "grads", "intermediates", "error_signals", "train", "losses")
ARRAY_FIELDS = ("inputs", "targets", "h0")
BASE64_DTYPES = {"float64": "<f8", "float32": "<f4"}
# The dtypes a case may be computed in, and the numpy dtype its arrays reach refbp.pipe in (a
# bfloat16 case's numbers travel in float32, refbp.cases.dtypes.carrier; as base64 a float16 or
# bfloat16 case's arrays are float32 too: every such number is one).
DTYPES = ("float64", "float32", "float16", "bfloat16")
CARRIERS = {"float64": "float64", "float32": "float32", "float16": "float16", "bfloat16": "float32"}
# The layer functions a `layer` request may name (refbp.layer.functions.FUNCTIONS; docs/formats.md section 12).
LAYER_FUNCTIONS = (
    "affine",
    "identity",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "elu",
    "softplus",
    "softmax",
    "half_sse",
    "sse",
    "mse",
    "bce",
    "cross_entropy",
    "softmax_cross_entropy",
    "rnn_step",
    "rnn",
)
LAYOUTS = ("out_in", "in_out")


def hello() -> dict:
    return {"id": 0, "type": "hello", "protocol": PROTOCOL}


def evaluate(request_id: int, case: dict, want: list[str], params_list: list[dict] | None = None) -> dict:
    """An `evaluate` request: `case` already encoded (encode_case), `want` some of QUANTITIES."""
    message = {"id": request_id, "type": "evaluate", "case": case, "want": list(want)}
    if params_list is not None:
        message["params_list"] = params_list
    return message


def layer_request(
    request_id: int, function: str, layout: str, inputs: dict, upstream, want: list[str], base64_arrays: bool = False
) -> dict:
    """A `layer` request: `function`'s output (want ["output"]) and the gradients of <output,
    upstream> by input name (want ["output", "grads"]) at `inputs`, weights laid out `layout`."""
    message = {
        "id": request_id,
        "type": "layer",
        "function": function,
        "layout": layout,
        "inputs": {name: encode_array(value, base64_arrays) for name, value in inputs.items()},
        "want": list(want),
    }
    if upstream is not None:
        message["upstream"] = encode_array(upstream, base64_arrays)
    return message


def compute_dtype(document: dict, params: dict) -> str:
    """The dtype the command computes a request in: the case's, when the arrays are its numbers as
    refbp.check.adapter gives them (float16 as float16, bfloat16 as float32), else float64 (the
    float64 copy of a low-precision case, for the finite differences of its own loss)."""
    dtype = document.get("dtype", "float64")
    first = next(iter(params.values()), None)
    given = str(np.asarray(first).dtype) if first is not None else CARRIERS.get(dtype, "float64")
    return dtype if dtype in CARRIERS and CARRIERS[dtype] == given else "float64"


def encode_case(
    document: dict, params: dict | None = None, inputs=None, targets=None, base64_arrays: bool = False
) -> dict:
    """The case as the command reads it: the adapter's document (numpy arrays) with `params`,
    `inputs`, `targets` replaced where given, its `dtype` the one to compute in (compute_dtype:
    float64 for the finite differences of a low-precision case's own loss), without the published
    `expected` values."""
    case = {
        key: value
        for key, value in document.items()
        if key != "expected" and key not in ARRAY_FIELDS and key != "params"
    }
    params = document["params"] if params is None else params
    case["dtype"] = compute_dtype(document, params)
    case["params"] = encode_params(params, base64_arrays)
    given = {"inputs": inputs, "targets": targets}
    for key in ARRAY_FIELDS:
        value = given.get(key)
        value = document.get(key) if value is None else value
        if value is not None:
            case[key] = encode_array(value, base64_arrays)
    return case


def encode_params(params: dict, base64_arrays: bool = False) -> dict:
    return {name: encode_array(value, base64_arrays) for name, value in params.items()}


def encode_array(value, base64_arrays: bool = False):
    """Nested lists, or the base64 form for a float array when asked (class indices stay lists)."""
    array = np.asarray(value)
    if base64_arrays and array.dtype.kind == "f":
        dtype = "float64" if array.dtype == np.float64 else "float32"  # float16's numbers are float32's too
        data = np.ascontiguousarray(array, dtype=BASE64_DTYPES[dtype]).tobytes()
        return {"dtype": dtype, "shape": list(array.shape), "base64": base64.b64encode(data).decode("ascii")}
    if array.dtype.kind == "f" and array.dtype != np.float64:
        array = array.astype(np.float64)  # float16 and bfloat16's numbers, exactly, as JSON numbers
    return array.tolist()


class BadArray(ValueError):
    """An answer's array that is neither nested lists of numbers nor a well-formed base64 object."""


def decode_array(value) -> np.ndarray:
    """An answer's array (either form) as float64; BadArray naming what is wrong. NaN and
    infinities stay (judged as failed checks, never refused here)."""
    if isinstance(value, dict):
        return _from_base64(value)
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise BadArray(f"not an array of numbers ({_short(exc)})") from None
    return array


def _from_base64(value: dict) -> np.ndarray:
    dtype, shape, text = value.get("dtype"), value.get("shape"), value.get("base64")
    if dtype not in BASE64_DTYPES:
        raise BadArray(f"base64 array: dtype {dtype!r} is not one of {', '.join(BASE64_DTYPES)}")
    if not isinstance(shape, list) or not all(isinstance(n, int) and n >= 0 for n in shape):
        raise BadArray(f"base64 array: shape {shape!r} is not a list of sizes")
    if not isinstance(text, str):
        raise BadArray("base64 array: no base64 text")
    try:
        data = base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise BadArray(f"base64 array: {_short(exc)}") from None
    count = int(np.prod(shape, dtype=np.int64))
    itemsize = np.dtype(BASE64_DTYPES[dtype]).itemsize
    if len(data) != count * itemsize:
        raise BadArray(f"base64 array: {len(data)} bytes for shape {shape} of {dtype} ({count * itemsize} expected)")
    return np.frombuffer(data, dtype=BASE64_DTYPES[dtype]).astype(np.float64).reshape(shape)


def _short(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
