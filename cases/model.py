"""The in-memory form of a `refbp-case/1` document, after validation and expansion.

Every array here is a plain numpy array in float64 (class-index targets: int64), whatever
the case's dtype: the implementation under test casts to the case's dtype itself, and
the references always run in float64.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

# The names a case may use are in the case schema (cases/schemas/refbp-case-1.schema.json),
# kept equal to refbp's one table of names (refbp.names) by tests/test_schemas.py.
# The parts of a case document that may be generated from a seed (cases/generate.py).
GENERATED_FIELDS = ("params.init", "inputs.random", "targets.random")


@dataclass(frozen=True)
class MLPNetwork:
    sizes: tuple[int, ...]
    activations: tuple[str, ...]
    bias: bool = True
    kind: Literal["mlp"] = "mlp"

    @property
    def depth(self) -> int:
        return len(self.sizes) - 1

    @property
    def output_size(self) -> int:
        return self.sizes[-1]

    @property
    def output_activation(self) -> str:
        return self.activations[-1]

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """Parameter names and shapes, in the canonical order (also the generator's order)."""
        shapes: dict[str, tuple[int, ...]] = {}
        for i in range(self.depth):
            shapes[f"layers.{i}.weight"] = (self.sizes[i + 1], self.sizes[i])
            if self.bias:
                shapes[f"layers.{i}.bias"] = (self.sizes[i + 1],)
        return shapes

    def intermediate_shapes(self, batch: int) -> dict[str, tuple[int, ...]]:
        shapes: dict[str, tuple[int, ...]] = {}
        for i in range(self.depth):
            shapes[f"layers.{i}.net"] = (batch, self.sizes[i + 1])
            shapes[f"layers.{i}.out"] = (batch, self.sizes[i + 1])
        return shapes

    def describe(self) -> str:
        return "mlp " + "-".join(str(n) for n in self.sizes)


@dataclass(frozen=True)
class RNNNetwork:
    input_size: int
    hidden_size: int
    output_size: int
    nonlinearity: str = "tanh"
    output_activation: str = "identity"
    readout: str = "every_step"
    bias: bool = True
    readout_bias: bool = True
    # Truncated BPTT: the gradient flows back at most `truncate` steps (None: all the way).
    truncate: int | None = None
    kind: Literal["rnn"] = "rnn"

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        H, n_in, n_out = self.hidden_size, self.input_size, self.output_size
        shapes: dict[str, tuple[int, ...]] = {"rnn.weight_ih": (H, n_in), "rnn.weight_hh": (H, H)}
        if self.bias:
            shapes["rnn.bias_ih"] = (H,)
            shapes["rnn.bias_hh"] = (H,)
        shapes["readout.weight"] = (n_out, H)
        if self.readout_bias:
            shapes["readout.bias"] = (n_out,)
        return shapes

    def intermediate_shapes(self, batch: int, steps: int) -> dict[str, tuple[int, ...]]:
        H, n_out = self.hidden_size, self.output_size
        out_shape = (batch, steps, n_out) if self.readout == "every_step" else (batch, n_out)
        return {
            "rnn.net": (batch, steps, H),
            "rnn.h": (batch, steps, H),
            "readout.net": out_shape,
            "readout.out": out_shape,
        }

    def describe(self) -> str:
        return f"rnn {self.input_size}-{self.hidden_size}-{self.output_size} {self.nonlinearity}"


Network = MLPNetwork | RNNNetwork


@dataclass(frozen=True)
class Train:
    optimizer: str
    lr: float
    steps: int = 1
    momentum: float = 0.0
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    frozen: tuple[str, ...] = ()


@dataclass(frozen=True)
class Tolerance:
    atol: float
    rtol: float


@dataclass(frozen=True)
class Expected:
    """Published numbers. NaN inside an array marks an entry the source does not print."""

    tolerance: Tolerance
    loss: float | None = None
    outputs: np.ndarray | None = None
    intermediates: dict[str, np.ndarray] = field(default_factory=dict)
    grads: dict[str, np.ndarray] = field(default_factory=dict)
    params_after: dict[str, np.ndarray] = field(default_factory=dict)
    loss_after: float | None = None
    # Printed precision per quantity ("loss", "grads.layers.0.weight", ...): decimals after the
    # point of each printed value (NaN where the case's tolerance applies instead).
    decimals: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class Case:
    id: str
    network: Network
    loss: str
    params: dict[str, np.ndarray]
    inputs: np.ndarray
    targets: np.ndarray
    dtype: str = "float64"
    h0: np.ndarray | None = None
    train: Train | None = None
    expected: Expected | None = None
    aliases: dict[str, str] = field(default_factory=dict)
    tolerance: Tolerance | None = None
    title: str = ""
    source: str = ""
    tags: tuple[str, ...] = ()
    path: Path | None = None
    # The validated document as written (generated parts unexpanded), for export.
    document: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def seeds(self) -> dict[str, int]:
        """{generated field: its seed} ({"params.init": 7, "inputs.random": 3}); empty when nothing is generated."""
        seeds = {}
        for where in GENERATED_FIELDS:
            head, key = where.split(".")
            spec = self.document.get(head)
            if isinstance(spec, dict) and isinstance(spec.get(key), dict) and "seed" in spec[key]:
                seeds[where] = spec[key]["seed"]
        return seeds

    @property
    def batch(self) -> int:
        return int(self.inputs.shape[0])

    @property
    def steps(self) -> int:
        """Time steps of an RNN case (1 for an MLP)."""
        return int(self.inputs.shape[1]) if isinstance(self.network, RNNNetwork) else 1

    @property
    def class_targets(self) -> bool:
        return self.targets.dtype.kind == "i"

    def label(self) -> str:
        return str(self.path) if self.path is not None else self.id

    def resolve_entry(self, name: str) -> tuple[str, tuple[int, ...]]:
        """`w5` (an alias) or `layers.1.weight[0][0]` -> (tensor name, index)."""
        text = self.aliases.get(name, name)
        tensor, index = parse_entry(text)
        shapes = self.network.param_shapes()
        if tensor not in shapes:
            known = ", ".join(list(shapes) + sorted(self.aliases))
            raise KeyError(f"unknown parameter {name!r} (known: {known})")
        shape = shapes[tensor]
        if len(index) != len(shape) or any(not 0 <= i < n for i, n in zip(index, shape)):
            raise KeyError(f"index {list(index)} is outside {tensor} of shape {list(shape)}")
        return tensor, index


_ENTRY = re.compile(r"^([A-Za-z_][A-Za-z0-9_.]*)((?:\[\d+\])*)$")


def parse_entry(text: str) -> tuple[str, tuple[int, ...]]:
    """`layers.0.weight[1][0]` -> ("layers.0.weight", (1, 0))."""
    match = _ENTRY.match(text.strip())
    if not match:
        raise KeyError(f"{text!r} is not of the form tensor[i][j]")
    index = tuple(int(i) for i in re.findall(r"\[(\d+)\]", match.group(2)))
    return match.group(1), index


def format_entry(tensor: str, index: Iterable[Any]) -> str:
    return tensor + "".join(f"[{int(i)}]" for i in index)
