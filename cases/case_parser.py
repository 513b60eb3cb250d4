"""The rules across the fields of a `refbp-case/1` document, after its JSON Schema: `CaseParser`.

The JSON Schema checks fields, types, names and ranges; `CaseParser` checks what a schema
cannot: shapes from the network, class ranges, the id equal to the file name, frozen names,
limits on sizes (before anything is allocated) and the dtype's range, and expands the
generated parts (initial parameters, random inputs and targets). Every problem is a
`CaseError` naming file, field and problem. refbp.cases.load reads files through it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
from numpy.typing import DTypeLike

from .arrays import MAX_ELEMENTS, check_float32, first_non_finite, index_text, shape_of, to_array
from .expected import parse_expected
from .generate import init_params, random_array
from .jsonio import CaseError, show
from .layer_case import LAYER_PREFIXES
from .model import Case, MLPNetwork, RNNNetwork, Tolerance, Train, parse_entry
from .schema import validate

FORMAT = "refbp-case/1"

# Bounds that keep a typo from asking for terabytes ("absurd sizes"); the schema states
# the per-field ones (65,536 units, batch 65,536, 10,000 time steps, 100,000 training steps).
MAX_PARAMS = 20_000_000  # parameters in one network
MAX_BATCH = 65_536
MAX_TIME_STEPS = 10_000


class CaseParser:
    """Validates one case document (`parse`) read from `path` (None: not from a file)."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path is not None else None

    def fail(self, field: str, problem: str) -> NoReturn:
        raise CaseError(self.path, field, problem)

    def array(
        self, value: Any, field: str, shape: Iterable[int] | None = None, dtype: DTypeLike = np.float64
    ) -> np.ndarray:
        return to_array(value, self.path, field, shape=shape, dtype=dtype)

    def parse(self, doc: Any) -> Case:
        if not isinstance(doc, dict):
            self.fail("", f"a case must be a JSON object, not {type(doc).__name__}")
        if "format" in doc and doc["format"] != FORMAT:  # before any other field: a format unknown here
            if isinstance(doc["format"], str) and doc["format"].startswith(LAYER_PREFIXES):
                self.fail(
                    "format",
                    f"{doc['format']} is a layer format: read by `refbp check --layer` or `--cmd`, "
                    f"`refbp verify` and `refbp cases` (docs/formats.md section 12), not as a "
                    f"whole network",
                )
            self.fail("format", f"unknown format {show(doc['format'])} (this reader knows {FORMAT!r})")
        problem = first_non_finite(doc)
        if problem is not None:
            self.fail(*problem)
        validate(doc, "case", self.path)
        case_id = doc["id"]
        if self.path is not None and self.path.stem != case_id:
            self.fail("id", f"{case_id!r} differs from the file name {self.path.name!r}")
        network = self.network(doc["network"])
        loss = self.loss(doc["loss"], network)
        params = self.params(doc["params"], network)
        inputs = self.inputs(doc["inputs"], network)
        batch = inputs.shape[0]
        steps = inputs.shape[1] if isinstance(network, RNNNetwork) else None
        targets = self.targets(doc["targets"], network, loss, batch, steps)
        h0 = None
        if doc.get("h0") is not None:
            if not isinstance(network, RNNNetwork):
                self.fail("h0", "only an RNN case has an initial hidden state")
            h0 = self.array(doc["h0"], "h0", shape=(batch, network.hidden_size))
        dtype = doc.get("dtype", "float64")
        if dtype != "float64":
            arrays = {f"params.{k}": v for k, v in params.items()} | {"inputs": inputs, "targets": targets, "h0": h0}
            for field, array in arrays.items():
                if array is not None:
                    check_float32(array, self.path, field, dtype)
        train = self.train(doc["train"], params) if doc.get("train") is not None else None
        self.aliases(doc.get("aliases", {}), network)
        tolerance = Tolerance(**doc["tolerance"]) if "tolerance" in doc else None
        expected = None
        if doc.get("expected") is not None:
            expected = parse_expected(doc["expected"], network, batch, steps, train, self.path)
        return Case(
            id=case_id,
            network=network,
            loss=loss,
            params=params,
            inputs=inputs,
            targets=targets,
            dtype=dtype,
            h0=h0,
            train=train,
            expected=expected,
            aliases=dict(doc.get("aliases", {})),
            tolerance=tolerance,
            title=doc.get("title", ""),
            source=doc.get("source", ""),
            tags=tuple(doc.get("tags", [])),
            path=self.path,
            document=doc,
        )

    # ---- network and loss ------------------------------------------------------------
    def network(self, net: dict[str, Any]) -> MLPNetwork | RNNNetwork:
        if net["kind"] == "rnn":
            fields = (
                "input_size",
                "hidden_size",
                "output_size",
                "nonlinearity",
                "output_activation",
                "readout",
                "bias",
                "readout_bias",
                "truncate",
            )
            given = {k: net[k] for k in fields if net.get(k) is not None}
            whole = {
                k: int(v) for k, v in given.items() if k in ("input_size", "hidden_size", "output_size", "truncate")
            }
            network: MLPNetwork | RNNNetwork = RNNNetwork(**(given | whole))
        else:
            sizes, acts = tuple(int(n) for n in net["sizes"]), net["activations"]
            if len(acts) != len(sizes) - 1:
                self.fail(
                    "network.activations", f"must list one activation per layer ({len(sizes) - 1}), not {len(acts)}"
                )
            for i, act in enumerate(acts[:-1]):
                if act == "softmax":
                    self.fail(f"network.activations[{i}]", "softmax is allowed on the output layer only")
            network = MLPNetwork(sizes=sizes, activations=tuple(acts), bias=net.get("bias", True))
        count = sum(math.prod(s) for s in network.param_shapes().values())
        if count > MAX_PARAMS:
            self.fail("network", f"{count} parameters is more than the limit of {MAX_PARAMS}")
        return network

    def loss(self, loss: str, network: MLPNetwork | RNNNetwork) -> str:
        last = network.output_activation
        if loss == "cross_entropy" and last != "identity":
            self.fail("loss", f"cross_entropy takes logits: the output activation must be identity, not {last!r}")
        if loss == "bce" and last != "sigmoid":
            self.fail("loss", f"bce needs a sigmoid output activation, not {last!r}")
        return loss

    # ---- parameters and data ---------------------------------------------------------
    def params(self, value: dict[str, Any], network: MLPNetwork | RNNNetwork) -> dict[str, np.ndarray]:
        shapes = network.param_shapes()
        if "init" in value:
            spec = value["init"]
            return init_params(shapes, spec["scheme"], int(spec["seed"]), float(spec.get("scale", 1.0)))
        for name in value:
            if name not in shapes:
                self.fail(f"params.{name}", f"unknown parameter (this network has: {', '.join(shapes)})")
        for name, shape in shapes.items():
            if name not in value:
                self.fail(f"params.{name}", f"is missing (shape {list(shape)})")
        return {name: self.array(value[name], f"params.{name}", shape=shape) for name, shape in shapes.items()}

    def inputs(self, value: Any, network: MLPNetwork | RNNNetwork) -> np.ndarray:
        is_rnn = isinstance(network, RNNNetwork)
        width = network.input_size if isinstance(network, RNNNetwork) else network.sizes[0]
        if isinstance(value, dict):
            spec = self.random_spec(value["random"], "inputs.random", is_rnn)
            if spec["distribution"] in ("classes", "simplex"):
                self.fail("inputs.random.distribution", "inputs are normal or uniform")
            shape = (spec["batch"], spec["steps"], width) if is_rnn else (spec["batch"], width)
            self.check_size(shape, "inputs.random")
            return random_array(spec, shape)
        array = self.array(value, "inputs")
        rank = 3 if is_rnn else 2
        if array.ndim != rank or array.shape[-1] != width:
            want = f"[B, T, {width}]" if is_rnn else f"[B, {width}]"
            self.fail("inputs", f"shape {list(array.shape)} does not match the expected shape {want}")
        if not 1 <= array.shape[0] <= MAX_BATCH:
            self.fail("inputs", f"batch {array.shape[0]} is outside [1, {MAX_BATCH}]")
        if is_rnn and not 1 <= array.shape[1] <= MAX_TIME_STEPS:
            self.fail("inputs", f"{array.shape[1]} time steps is outside [1, {MAX_TIME_STEPS}]")
        return array

    def check_size(self, shape: tuple[int, ...], field: str) -> None:
        if math.prod(shape) > MAX_ELEMENTS:
            self.fail(
                field,
                f"{' x '.join(map(str, shape))} = {math.prod(shape)} entries is more than the limit of {MAX_ELEMENTS}",
            )

    def targets(
        self, value: Any, network: MLPNetwork | RNNNetwork, loss: str, batch: int, steps: int | None
    ) -> np.ndarray:
        out = network.output_size
        per_step = isinstance(network, RNNNetwork) and network.readout == "every_step"
        lead: tuple[int, ...] = (batch, steps) if per_step and steps is not None else (batch,)
        if isinstance(value, dict):
            spec = self.random_spec(value["random"], "targets.random", None)
            if spec["distribution"] == "classes":
                if loss != "cross_entropy":
                    self.fail("targets.random.distribution", "class indices go with cross_entropy only")
                return random_array(spec, lead, classes=out)
            self.check_size(lead + (out,), "targets.random")
            array = random_array(spec, lead + (out,))
        elif loss == "cross_entropy" and shape_of(value)[0] == lead:
            return self.class_indices(value, lead, out)
        else:
            array = self.array(value, "targets", shape=lead + (out,))
        if loss == "bce" and ((array < 0) | (array > 1)).any():
            self.fail("targets", "bce targets must lie in [0, 1]")
        if loss == "cross_entropy" and ((array < 0).any() or not np.allclose(array.sum(axis=-1), 1.0, atol=1e-6)):
            self.fail("targets", "cross_entropy probability targets must be non-negative and sum to 1 per example")
        return array

    def class_indices(self, value: Any, lead: tuple[int, ...], classes: int) -> np.ndarray:
        """Targets of the shape [B] ([B, T]): class indices, whole numbers in [0, C)."""
        array = self.array(value, "targets", shape=lead)
        for bad, problem in (
            (array != np.round(array), "is not a whole number"),
            ((array < 0) | (array >= classes), f"is outside [0, {classes - 1}]"),
        ):
            if bad.any():
                where = np.unravel_index(int(np.argmax(bad)), array.shape)
                self.fail(f"targets{index_text(where)}", f"class index {array[where]:g} {problem}")
        return array.astype(np.int64)

    def random_spec(self, spec: dict[str, Any], where: str, rnn_inputs: bool | None) -> dict[str, Any]:
        """rnn_inputs: True/False for the inputs of an RNN/MLP, None for targets (shaped by the inputs)."""
        needs = {"batch": rnn_inputs is not None, "steps": bool(rnn_inputs)}
        for key, needed in needs.items():
            if needed and key not in spec:
                self.fail(f"{where}.{key}", "is required")
            if key in spec and not needed:
                self.fail(
                    f"{where}.{key}",
                    "the batch is taken from the inputs"
                    if key == "batch" or rnn_inputs is None
                    else "time steps belong to RNN inputs only",
                )
        if spec.get("low", 0.0) > spec.get("high", 1.0):
            self.fail(f"{where}.low", "must not exceed high")
        return spec | {k: int(spec[k]) for k in ("seed", "batch", "steps") if k in spec}

    # ---- training and aliases --------------------------------------------------------
    def train(self, spec: dict[str, Any], params: dict[str, np.ndarray]) -> Train:
        frozen = spec.get("frozen", [])
        for i, name in enumerate(frozen):
            if name not in params:
                self.fail(f"train.frozen[{i}]", f"unknown parameter {name!r} (known: {', '.join(params)})")
        if set(frozen) == set(params):
            self.fail(
                "train.frozen",
                "every parameter is frozen: nothing would train (leave one out of frozen, or drop train)",
            )
        return Train(
            optimizer=spec["optimizer"],
            lr=float(spec["lr"]),
            steps=int(spec.get("steps", 1)),
            momentum=float(spec.get("momentum", 0.0)),
            weight_decay=float(spec.get("weight_decay", 0.0)),
            betas=_betas(spec.get("betas", (0.9, 0.999))),
            eps=float(spec.get("eps", 1e-8)),
            frozen=tuple(frozen),
        )

    def aliases(self, value: dict[str, Any], network: MLPNetwork | RNNNetwork) -> None:
        shapes = network.param_shapes()
        for alias, target in value.items():
            field = f"aliases.{alias}"
            try:
                tensor, index = parse_entry(target)
            except KeyError as exc:
                self.fail(field, str(exc.args[0]))
            if tensor not in shapes:
                self.fail(field, f"unknown parameter {tensor!r}")
            shape = shapes[tensor]
            if len(index) != len(shape) or any(not 0 <= i < n for i, n in zip(index, shape)):
                self.fail(field, f"index {list(index)} is outside {tensor} of shape {list(shape)}")


def _betas(betas: Any) -> tuple[float, float]:
    """Adam's two betas (the schema holds the list to two numbers)."""
    first, second = (float(b) for b in betas)
    return first, second
