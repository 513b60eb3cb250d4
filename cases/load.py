"""Loading and validating `refbp-case/1` documents.

Every problem is a `CaseError` naming the file, the field and the problem, in one line.
Nothing here imports torch or refbp.nn: the suite's data must not depend on the code it checks.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import replace
from pathlib import Path

import numpy as np

from .generate import DISTRIBUTIONS, INIT_SCHEMES, init_params, random_array
from .model import (
    ACTIVATIONS,
    DTYPES,
    LOSSES,
    OPTIMIZERS,
    RNN_NONLINEARITIES,
    RNN_READOUTS,
    Case,
    Expected,
    MLPNetwork,
    RNNNetwork,
    Tolerance,
    Train,
    parse_entry,
)

FORMAT = "refbp-case/1"
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]*$")

# Bounds that keep a typo from asking for terabytes ("absurd sizes").
MAX_UNITS = 65_536          # units in one layer / hidden, input or output size
MAX_PARAMS = 20_000_000     # parameters in one network
MAX_BATCH = 65_536
MAX_TIME_STEPS = 10_000
MAX_TRAIN_STEPS = 100_000
MAX_ELEMENTS = 50_000_000   # entries of one data array

CASE_FIELDS = {
    "format", "id", "title", "source", "tags", "dtype", "network", "loss", "params",
    "inputs", "targets", "h0", "train", "expected", "aliases", "tolerance",
}
REQUIRED_FIELDS = ("format", "id", "network", "loss", "params", "inputs", "targets")


class CaseError(ValueError):
    """A bad case: `file: field: problem`, one line."""

    def __init__(self, path, field: str, problem: str):
        self.path = str(path) if path is not None else "<case>"
        self.field = field
        self.problem = problem
        where = f"{self.path}: {field}" if field else self.path
        super().__init__(f"{where}: {problem}")


def discover(paths) -> list[Path]:
    """Case files under the given files and folders (recursively, `*.json`, sorted)."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*.json") if p.is_file()))
        else:
            found.append(path)
    return found


def read_json(path) -> dict:
    """Parse a JSON file strictly: no NaN/Infinity literals, no duplicate keys."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CaseError(path, "", "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CaseError(path, "", f"cannot read: {exc}") from None
    return parse_json(text, path)


def parse_json(text: str, path=None) -> dict:
    def reject_constant(name):
        raise CaseError(path, "", f"{name} is not allowed in a case (JSON has no NaN or Infinity)")

    def no_duplicates(pairs):
        obj = {}
        for key, value in pairs:
            if key in obj:
                raise CaseError(path, key, "appears twice in one object")
            obj[key] = value
        return obj

    try:
        return json.loads(text, parse_constant=reject_constant, object_pairs_hook=no_duplicates)
    except json.JSONDecodeError as exc:
        raise CaseError(path, "", f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None


def load_case(path) -> Case:
    path = Path(path)
    return parse_case(read_json(path), path)


def parse_case(document, path=None) -> Case:
    """Validate a case document (a dict) and expand its generated parts."""
    return _CaseParser(path).parse(document)


class _CaseParser:
    def __init__(self, path):
        self.path = Path(path) if path is not None else None

    def fail(self, field: str, problem: str):
        raise CaseError(self.path, field, problem)

    # ---- top level -------------------------------------------------------------------
    def parse(self, doc) -> Case:
        if not isinstance(doc, dict):
            self.fail("", f"a case must be a JSON object, not {_kind(doc)}")
        self.check_fields(doc, "", CASE_FIELDS, REQUIRED_FIELDS)
        if doc["format"] != FORMAT:
            self.fail("format", f"unknown format {doc['format']!r} (this reader knows {FORMAT!r})")
        case_id = doc["id"]
        if not isinstance(case_id, str) or not ID_PATTERN.match(case_id):
            self.fail("id", f"{case_id!r} must match [a-z0-9][a-z0-9._-]*")
        if self.path is not None and self.path.stem != case_id:
            self.fail("id", f"{case_id!r} differs from the file name {self.path.name!r}")
        title = self.text(doc, "title")
        source = self.text(doc, "source")
        tags = doc.get("tags", [])
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            self.fail("tags", "must be a list of strings")
        dtype = doc.get("dtype", "float64")
        if dtype not in DTYPES:
            self.fail("dtype", f"unknown dtype {dtype!r} (known: {', '.join(DTYPES)})")

        network = self.network(doc["network"])
        loss = self.loss(doc["loss"], network)
        params = self.params(doc["params"], network)
        inputs = self.inputs(doc["inputs"], network)
        batch = inputs.shape[0]
        steps = inputs.shape[1] if isinstance(network, RNNNetwork) else None
        targets = self.targets(doc["targets"], network, loss, batch, steps)
        h0 = None
        if "h0" in doc and doc["h0"] is not None:
            if not isinstance(network, RNNNetwork):
                self.fail("h0", "only an RNN case has an initial hidden state")
            h0 = self.array(doc["h0"], "h0", shape=(batch, network.hidden_size))
        train = self.train(doc["train"], params) if doc.get("train") is not None else None
        aliases = self.aliases(doc.get("aliases", {}), network)
        tolerance = self.tolerance(doc["tolerance"], "tolerance") if "tolerance" in doc else None
        expected = None
        if doc.get("expected") is not None:
            expected = self.expected(doc["expected"], network, batch, steps, train)
        return Case(
            id=case_id, network=network, loss=loss, params=params, inputs=inputs,
            targets=targets, dtype=dtype, h0=h0, train=train, expected=expected,
            aliases=aliases, tolerance=tolerance, title=title, source=source,
            tags=tuple(tags), path=self.path, document=doc,
        )

    # ---- helpers ---------------------------------------------------------------------
    def check_fields(self, obj: dict, where: str, allowed, required=()):
        for key in obj:
            if key not in allowed:
                self.fail(_join(where, key), f"unknown field (allowed: {', '.join(sorted(allowed))})")
        for key in required:
            if key not in obj:
                self.fail(_join(where, key), "is required")

    def obj(self, value, field: str) -> dict:
        if not isinstance(value, dict):
            self.fail(field, f"must be an object, not {_kind(value)}")
        return value

    def text(self, doc: dict, key: str) -> str:
        value = doc.get(key, "")
        if not isinstance(value, str):
            self.fail(key, f"must be a string, not {_kind(value)}")
        return value

    def integer(self, value, field: str, low: int, high: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(field, f"must be a whole number, not {_kind(value)}")
        if not low <= value <= high:
            self.fail(field, f"{value} is outside [{low}, {high}]")
        return value

    def number(self, value, field: str, low=-math.inf, high=math.inf, low_open=False) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(field, f"must be a number, not {_kind(value)}")
        if not _finite(value):
            self.fail(field, "must be a finite float64 number")
        value = float(value)
        if not math.isfinite(value):
            self.fail(field, "must be finite")
        if value < low or value > high or (low_open and value == low):
            bracket = "(" if low_open else "["
            self.fail(field, f"{value} is outside {bracket}{low}, {high}]")
        return value

    def boolean(self, value, field: str) -> bool:
        if not isinstance(value, bool):
            self.fail(field, f"must be true or false, not {_kind(value)}")
        return value

    def choice(self, value, field: str, options, what: str) -> str:
        if value not in options:
            self.fail(field, f"unknown {what} {value!r} (known: {', '.join(options)})")
        return value

    def array(self, value, field: str, shape=None, allow_null=False, integer=False) -> np.ndarray:
        """A nested JSON list -> ndarray, with the field and both shapes named on mismatch."""
        found = _shape_of(value, field, self, allow_null, integer)
        size = math.prod(found)
        if size > MAX_ELEMENTS:
            self.fail(field, f"{size} entries is more than the limit of {MAX_ELEMENTS}")
        if shape is not None and tuple(found) != tuple(shape):
            self.fail(field, f"shape {list(found)} does not match the expected shape {list(shape)}")
        if integer:
            return np.asarray(value, dtype=np.int64).reshape(found)
        if allow_null:
            return np.asarray(_nulls_to_nan(value), dtype=np.float64).reshape(found)
        return np.asarray(value, dtype=np.float64).reshape(found)

    # ---- network and loss ------------------------------------------------------------
    def network(self, value) -> MLPNetwork | RNNNetwork:
        net = self.obj(value, "network")
        kind = net.get("kind")
        if kind == "mlp":
            return self.mlp(net)
        if kind == "rnn":
            return self.rnn(net)
        self.fail("network.kind", f"unknown network kind {kind!r} (known: mlp, rnn)")

    def mlp(self, net: dict) -> MLPNetwork:
        self.check_fields(net, "network", {"kind", "sizes", "activations", "bias"}, ("sizes", "activations"))
        sizes = net["sizes"]
        if not isinstance(sizes, list) or len(sizes) < 2:
            self.fail("network.sizes", "must be a list of at least two layer sizes [n0, ..., nL]")
        sizes = tuple(self.integer(n, f"network.sizes[{i}]", 1, MAX_UNITS) for i, n in enumerate(sizes))
        acts = net["activations"]
        if not isinstance(acts, list) or len(acts) != len(sizes) - 1:
            self.fail("network.activations", f"must list one activation per layer ({len(sizes) - 1})")
        for i, act in enumerate(acts):
            self.choice(act, f"network.activations[{i}]", ACTIVATIONS, "activation")
            if act == "softmax" and i != len(acts) - 1:
                self.fail(f"network.activations[{i}]", "softmax is allowed on the output layer only")
        bias = self.boolean(net.get("bias", True), "network.bias")
        network = MLPNetwork(sizes=sizes, activations=tuple(acts), bias=bias)
        self.check_param_count(network)
        return network

    def rnn(self, net: dict) -> RNNNetwork:
        allowed = {"kind", "input_size", "hidden_size", "output_size", "nonlinearity",
                   "output_activation", "readout", "bias", "readout_bias", "truncate"}
        self.check_fields(net, "network", allowed, ("input_size", "hidden_size", "output_size"))
        sizes = {k: self.integer(net[k], f"network.{k}", 1, MAX_UNITS)
                 for k in ("input_size", "hidden_size", "output_size")}
        nonlinearity = self.choice(net.get("nonlinearity", "tanh"), "network.nonlinearity",
                                   RNN_NONLINEARITIES, "nonlinearity")
        output_activation = self.choice(net.get("output_activation", "identity"),
                                        "network.output_activation", ACTIVATIONS, "activation")
        readout = self.choice(net.get("readout", "every_step"), "network.readout", RNN_READOUTS, "readout")
        truncate = net.get("truncate")
        if truncate is not None:
            truncate = self.integer(truncate, "network.truncate", 1, MAX_TIME_STEPS)
        network = RNNNetwork(
            **sizes, nonlinearity=nonlinearity, output_activation=output_activation, readout=readout,
            bias=self.boolean(net.get("bias", True), "network.bias"),
            readout_bias=self.boolean(net.get("readout_bias", True), "network.readout_bias"),
            truncate=truncate,
        )
        self.check_param_count(network)
        return network

    def check_param_count(self, network):
        count = sum(math.prod(s) for s in network.param_shapes().values())
        if count > MAX_PARAMS:
            self.fail("network", f"{count} parameters is more than the limit of {MAX_PARAMS}")

    def loss(self, value, network) -> str:
        loss = self.choice(value, "loss", LOSSES, "loss")
        last = network.output_activation
        if loss == "cross_entropy" and last != "identity":
            self.fail("loss", f"cross_entropy takes logits: the output activation must be identity, not {last!r}")
        if loss == "bce" and last != "sigmoid":
            self.fail("loss", f"bce needs a sigmoid output activation, not {last!r}")
        return loss

    # ---- parameters and data ---------------------------------------------------------
    def params(self, value, network) -> dict[str, np.ndarray]:
        value = self.obj(value, "params")
        shapes = network.param_shapes()
        if "init" in value:
            self.check_fields(value, "params", {"init"})
            spec = self.obj(value["init"], "params.init")
            self.check_fields(spec, "params.init", {"scheme", "seed", "scale"}, ("scheme", "seed"))
            scheme = self.choice(spec["scheme"], "params.init.scheme", INIT_SCHEMES, "init scheme")
            seed = self.integer(spec["seed"], "params.init.seed", 0, 2**63 - 1)
            scale = self.number(spec.get("scale", 1.0), "params.init.scale", 0.0, 1e6, low_open=True)
            return init_params(shapes, scheme, seed, scale)
        for name in value:
            if name not in shapes:
                self.fail(f"params.{name}", f"unknown parameter (this network has: {', '.join(shapes)})")
        params = {}
        for name, shape in shapes.items():
            if name not in value:
                self.fail(f"params.{name}", f"is missing (shape {list(shape)})")
            params[name] = self.array(value[name], f"params.{name}", shape=shape)
        return params

    def inputs(self, value, network) -> np.ndarray:
        is_rnn = isinstance(network, RNNNetwork)
        width = network.input_size if is_rnn else network.sizes[0]
        if isinstance(value, dict):
            spec = self.random_spec(value, "inputs", need_batch=True, need_steps=is_rnn)
            if spec["distribution"] in ("classes", "simplex"):
                self.fail("inputs.random.distribution", "inputs are normal or uniform")
            shape = (spec["batch"], spec["steps"], width) if is_rnn else (spec["batch"], width)
            return random_array(spec, shape)
        array = self.array(value, "inputs")
        rank = 3 if is_rnn else 2
        if array.ndim != rank or array.shape[-1] != width:
            want = "[B, T, %d]" % width if is_rnn else "[B, %d]" % width
            self.fail("inputs", f"shape {list(array.shape)} does not match the expected shape {want}")
        if not 1 <= array.shape[0] <= MAX_BATCH:
            self.fail("inputs", f"batch {array.shape[0]} is outside [1, {MAX_BATCH}]")
        if is_rnn and not 1 <= array.shape[1] <= MAX_TIME_STEPS:
            self.fail("inputs", f"{array.shape[1]} time steps is outside [1, {MAX_TIME_STEPS}]")
        return array

    def targets(self, value, network, loss, batch, steps) -> np.ndarray:
        out = network.output_size
        per_step = isinstance(network, RNNNetwork) and network.readout == "every_step"
        lead = (batch, steps) if per_step else (batch,)
        if isinstance(value, dict):
            spec = self.random_spec(value, "targets")
            dist = spec["distribution"]
            if dist == "classes":
                if loss != "cross_entropy":
                    self.fail("targets.random.distribution", "class indices go with cross_entropy only")
                return random_array(spec, lead, classes=out)
            array = random_array(spec, lead + (out,))
        elif loss == "cross_entropy" and _is_integer_list(value):
            array = self.array(value, "targets", shape=lead, integer=True)
            bad = np.flatnonzero((array < 0) | (array >= out))
            if bad.size:
                where = np.unravel_index(bad[0], array.shape)
                self.fail(f"targets{_index(where)}", f"class {array[where]} is outside [0, {out - 1}]")
            return array
        else:
            array = self.array(value, "targets", shape=lead + (out,))
        if loss == "bce" and ((array < 0) | (array > 1)).any():
            self.fail("targets", "bce targets must lie in [0, 1]")
        if loss == "cross_entropy":
            if (array < 0).any() or not np.allclose(array.sum(axis=-1), 1.0, atol=1e-6):
                self.fail("targets", "cross_entropy probability targets must be non-negative and sum to 1 per example")
        return array

    def random_spec(self, value: dict, field: str, need_batch=False, need_steps=False) -> dict:
        self.check_fields(value, field, {"random"}, ("random",))
        where = f"{field}.random"
        spec = self.obj(value["random"], where)
        allowed = {"seed", "distribution", "batch", "steps", "mean", "scale", "low", "high"}
        required = ["seed", "distribution"] + (["batch"] if need_batch else []) + (["steps"] if need_steps else [])
        self.check_fields(spec, where, allowed, required)
        self.integer(spec["seed"], f"{where}.seed", 0, 2**63 - 1)
        self.choice(spec["distribution"], f"{where}.distribution", DISTRIBUTIONS, "distribution")
        if "batch" in spec:
            if not need_batch:
                self.fail(f"{where}.batch", "the batch is taken from the inputs")
            self.integer(spec["batch"], f"{where}.batch", 1, MAX_BATCH)
        if "steps" in spec:
            if not need_steps:
                self.fail(f"{where}.steps", "time steps belong to RNN inputs only")
            self.integer(spec["steps"], f"{where}.steps", 1, MAX_TIME_STEPS)
        for key in ("mean", "scale", "low", "high"):
            if key in spec:
                self.number(spec[key], f"{where}.{key}", -1e6, 1e6)
        if spec.get("low", 0.0) > spec.get("high", 1.0):
            self.fail(f"{where}.low", "must not exceed high")
        return spec

    # ---- training, aliases, expected -------------------------------------------------
    def train(self, value, params) -> Train:
        spec = self.obj(value, "train")
        optimizer = self.choice(spec.get("optimizer"), "train.optimizer", OPTIMIZERS, "optimizer")
        common = {"optimizer", "lr", "steps", "weight_decay", "frozen"}
        allowed = common | ({"momentum"} if optimizer == "sgd" else {"betas", "eps"})
        self.check_fields(spec, "train", allowed, ("lr",))
        lr = self.number(spec["lr"], "train.lr", 0.0, 1e6, low_open=True)
        steps = self.integer(spec.get("steps", 1), "train.steps", 1, MAX_TRAIN_STEPS)
        weight_decay = self.number(spec.get("weight_decay", 0.0), "train.weight_decay", 0.0, 1e6)
        momentum = self.number(spec.get("momentum", 0.0), "train.momentum", 0.0, 1.0)
        betas = spec.get("betas", [0.9, 0.999])
        if not isinstance(betas, list) or len(betas) != 2:
            self.fail("train.betas", "must be a list of two numbers [beta1, beta2]")
        betas = tuple(self.number(b, f"train.betas[{i}]", 0.0, 1.0) for i, b in enumerate(betas))
        if max(betas) >= 1.0:
            self.fail("train.betas", "each beta must be below 1")
        eps = self.number(spec.get("eps", 1e-8), "train.eps", 0.0, 1.0, low_open=True)
        frozen = spec.get("frozen", [])
        if not isinstance(frozen, list):
            self.fail("train.frozen", "must be a list of parameter names")
        for i, name in enumerate(frozen):
            if name not in params:
                self.fail(f"train.frozen[{i}]", f"unknown parameter {name!r} (known: {', '.join(params)})")
        return Train(optimizer=optimizer, lr=lr, steps=steps, momentum=momentum,
                     weight_decay=weight_decay, betas=betas, eps=eps, frozen=tuple(frozen))

    def aliases(self, value, network) -> dict[str, str]:
        value = self.obj(value, "aliases")
        shapes = network.param_shapes()
        for alias, target in value.items():
            field = f"aliases.{alias}"
            if not isinstance(target, str):
                self.fail(field, "must name an entry such as \"layers.0.weight[0][1]\"")
            try:
                tensor, index = parse_entry(target)
            except KeyError as exc:
                self.fail(field, str(exc.args[0]))
            if tensor not in shapes:
                self.fail(field, f"unknown parameter {tensor!r}")
            shape = shapes[tensor]
            if len(index) != len(shape) or any(not 0 <= i < n for i, n in zip(index, shape)):
                self.fail(field, f"index {list(index)} is outside {tensor} of shape {list(shape)}")
        return dict(value)

    def tolerance(self, value, field: str) -> Tolerance:
        spec = self.obj(value, field)
        self.check_fields(spec, field, {"atol", "rtol"}, ("atol", "rtol"))
        return Tolerance(atol=self.number(spec["atol"], f"{field}.atol", 0.0, 1e6),
                         rtol=self.number(spec["rtol"], f"{field}.rtol", 0.0, 1e6))

    def expected(self, value, network, batch, steps, train) -> Expected:
        spec = self.obj(value, "expected")
        allowed = {"tolerance", "loss", "outputs", "intermediates", "grads", "params_after", "loss_after", "decimals"}
        self.check_fields(spec, "expected", allowed, ("tolerance",))
        if train is None and ("params_after" in spec or "loss_after" in spec):
            self.fail("expected.params_after", "a case without train has no values after training")
        tolerance = self.tolerance(spec["tolerance"], "expected.tolerance")
        shapes = network.param_shapes()
        if isinstance(network, RNNNetwork):
            inter_shapes = network.intermediate_shapes(batch, steps)
        else:
            inter_shapes = network.intermediate_shapes(batch)
        out_shape = inter_shapes["readout.out" if isinstance(network, RNNNetwork) else f"layers.{network.depth - 1}.out"]

        def scalar(key):
            v = spec.get(key)
            return None if v is None else self.number(v, f"expected.{key}")

        def tensors(key, known):
            got = self.obj(spec.get(key, {}), f"expected.{key}")
            result = {}
            for name, array in got.items():
                if name not in known:
                    self.fail(f"expected.{key}.{name}", f"unknown tensor (known: {', '.join(known)})")
                if array is not None:
                    result[name] = self.array(array, f"expected.{key}.{name}", shape=known[name], allow_null=True)
            return result

        outputs = spec.get("outputs")
        expected = Expected(
            tolerance=tolerance,
            loss=scalar("loss"),
            outputs=None if outputs is None else self.array(outputs, "expected.outputs", shape=out_shape, allow_null=True),
            intermediates=tensors("intermediates", inter_shapes),
            grads=tensors("grads", shapes),
            params_after=tensors("params_after", shapes),
            loss_after=scalar("loss_after"),
        )
        return replace(expected, decimals=self.printed_decimals(spec.get("decimals", {}), expected))

    def printed_decimals(self, value, expected: Expected) -> dict[str, np.ndarray]:
        """`expected.decimals`: how many decimals each published value was printed with.

        Keys name a quantity of `expected` ("loss", "outputs", "loss_after") or one of its
        tensors ("grads.layers.0.weight"); a value is one whole number for every entry, or
        an array of the tensor's shape (null: the entry is judged by `expected.tolerance`).
        """
        value = self.obj(value, "expected.decimals")
        printed = printed_values(expected)
        result = {}
        for key, decimals in value.items():
            field = f"expected.decimals.{key}"
            if key not in printed:
                known = ", ".join(printed) or "none"
                self.fail(field, f"names no published value of this case (known: {known})")
            shape = np.shape(printed[key])
            if isinstance(decimals, list):
                array = self.array(decimals, field, shape=shape, allow_null=True)
            else:
                array = np.full(shape, float(self.integer(decimals, field, 0, MAX_DECIMALS)))
            bad = ~np.isnan(array) & ((array != np.round(array)) | (array < 0) | (array > MAX_DECIMALS))
            if bad.any():
                where = np.argwhere(bad)[0]
                self.fail(f"{field}{_index(where)}", f"must be a whole number of decimals in [0, {MAX_DECIMALS}]")
            result[key] = array
        return result


# ---- module helpers ------------------------------------------------------------------
MAX_DECIMALS = 30  # printed digits after the point (1.77005547e-04 has 12)


def printed_values(expected: Expected) -> dict[str, object]:
    """The published values of `expected` by the keys of `expected.decimals`."""
    values = {key: getattr(expected, key) for key in ("loss", "outputs", "loss_after")
              if getattr(expected, key) is not None}
    for quantity in ("intermediates", "grads", "params_after"):
        for name, array in getattr(expected, quantity).items():
            values[f"{quantity}.{name}"] = array
    return values


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _kind(value) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            type(None): "null", int: "a number", float: "a number"}.get(type(value), type(value).__name__)


def _index(index) -> str:
    return "".join(f"[{int(i)}]" for i in index)


def _is_integer_list(value) -> bool:
    """True for a nested list whose first leaf is an int (class indices)."""
    while isinstance(value, list) and value:
        value = value[0]
    return isinstance(value, int) and not isinstance(value, bool)


def _shape_of(value, field, parser, allow_null, integer, index=()):
    """The shape of a nested list, failing on ragged lists and on non-numbers with their index."""
    if not isinstance(value, list):
        parser.fail(field, f"must be an array (nested lists of numbers), not {_kind(value)}")
    if not value:
        parser.fail(field, "must not be empty")
    shape = None
    for i, item in enumerate(value):
        here = index + (i,)
        if isinstance(item, list):
            sub = _shape_of(item, field, parser, allow_null, integer, here)
            item_shape = sub
        else:
            if item is None and allow_null:
                pass
            elif integer:
                if isinstance(item, bool) or not isinstance(item, int):
                    parser.fail(f"{field}{_index(here)}", f"must be a whole number (class index), not {_kind(item)}")
            elif isinstance(item, bool) or not isinstance(item, (int, float)):
                parser.fail(f"{field}{_index(here)}", f"must be a number, not {_kind(item)}")
            elif not _finite(item):
                parser.fail(f"{field}{_index(here)}", "must be a finite float64 number")
            item_shape = ()
        if shape is None:
            shape = item_shape
        elif shape != item_shape:
            parser.fail(f"{field}{_index(here)}", f"ragged array: shape {list(item_shape)} where {list(shape)} came before")
    return (len(value),) + shape


def _finite(number) -> bool:
    try:
        return math.isfinite(float(number))
    except OverflowError:  # an integer too large for float64
        return False


def _nulls_to_nan(value):
    if isinstance(value, list):
        return [_nulls_to_nan(v) for v in value]
    return math.nan if value is None else value


def parse_array(value, path, field: str, shape=None) -> np.ndarray:
    """A nested JSON list of numbers -> float64 array, with the same one-line errors as a case's arrays."""
    return _CaseParser(path).array(value, field, shape=shape)
