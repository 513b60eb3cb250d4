"""Reading results of other implementations (`refbp-result/1`, `refbp-results/1` bundles).

A result holds what an implementation computed for one case; every quantity is optional,
and a quantity that is absent is "not provided", never passed. The schema checks the
structure: a file it refuses (not JSON, an unknown format or field, a string where a
number belongs) is bad input. An answer that reads but is wrong in any way (a wrong
value or shape, NaN, an infinity, an entry or a tensor given as null) is a wrong answer:
a failed check naming the tensor.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from refbp.cases import Case, CaseError, RNNNetwork, read_json
from refbp.cases.arrays import shape_of
from refbp.cases.schema import validate

from ..diagnosis import diagnose_checks
from ..trace import Trace
from .tolerance import tolerance_for
from .verdict import Check

RESULT_FORMAT = "refbp-result/1"
BUNDLE_FORMAT = "refbp-results/1"
QUANTITIES = ("outputs", "loss", "grads", "params_after", "loss_after")
# Optional, for the diagnosis of where a wrong answer starts (docs/formats.md section 3).
DIAGNOSTICS = ("intermediates", "error_signals")


@dataclass
class Result:
    case: str
    implementation: str
    document: dict[str, Any]
    path: Path
    where: str  # "" for a single result, "results[3]." inside a bundle

    def fail(self, field: str, problem: str) -> NoReturn:
        raise CaseError(self.path, f"{self.where}{field}", problem)

    def label(self) -> str:
        """`file` or `file: results[3]`, to name the result in a message."""
        return f"{self.path}: {self.where.rstrip('.')}" if self.where else str(self.path)


@dataclass
class ResultTrace:
    """A result read against its case."""

    trace: Trace
    not_provided: list[str] = field(default_factory=list)
    provided: set[tuple[str, str]] = field(default_factory=set)  # (quantity, tensor) pairs given in the right shape
    wrong: list[tuple[str, str, str]] = field(default_factory=list)  # (quantity, tensor, what is wrong)
    # The wrong-shaped answers that still read as arrays (a transposed or per-example gradient), for the diagnosis.
    wrong_values: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)


def answer_document(case_id: str, implementation: str, trace: Trace) -> dict[str, Any]:
    """The refbp-result/1 document of a trace: its outputs, loss, gradients and training (a trace
    of a whole answer: its loss, and its loss after training where it trained, are there)."""
    document: dict[str, Any] = {
        "format": RESULT_FORMAT,
        "case": case_id,
        "implementation": implementation,
        "outputs": np.asarray(trace.outputs).tolist(),
        "loss": float(_given(trace.loss)),
        "grads": {name: np.asarray(g).tolist() for name, g in trace.grads.items()},
    }
    if trace.params_after is not None:
        document["params_after"] = {name: np.asarray(p).tolist() for name, p in trace.params_after.items()}
        document["loss_after"] = float(_given(trace.loss_after))
    return document


def _given(value: float | None) -> float:
    if value is None:
        raise TypeError("answer_document: a trace without its loss is not a whole answer")
    return value


def read_results(path: str | os.PathLike[str]) -> list[Result]:
    """Every result in a file; a file that is not of the formats raises CaseError naming file and field."""
    path = Path(path)
    return results_in(read_json(path, allow_non_finite=True), path)


def results_in(document: Any, path: Any) -> list[Result]:
    """Every result in a parsed document (a file's, or an HTTP body's: `path` names it in messages)."""
    if not isinstance(document, dict):
        raise CaseError(path, "", f"a result must be a JSON object, not {type(document).__name__}")
    kind = document.get("format")
    if kind == RESULT_FORMAT:
        validate(document, "result", path)
        return [_result(document, path, "", None)]
    if kind == BUNDLE_FORMAT:
        validate(document, "results", path)
        return [
            _result(r, path, f"results[{i}].", document.get("implementation"))
            for i, r in enumerate(document["results"])
        ]
    if "format" not in document:
        raise CaseError(path, "format", f"is required ({RESULT_FORMAT!r} or {BUNDLE_FORMAT!r})")
    raise CaseError(
        path, "format", f"unknown format {str(kind)[:40]!r} (this reader knows {RESULT_FORMAT!r} and {BUNDLE_FORMAT!r})"
    )


def _result(document: dict[str, Any], path: Any, where: str, bundle_implementation: str | None) -> Result:
    implementation = document.get("implementation", bundle_implementation) or "unnamed implementation"
    return Result(document["case"], implementation, document, path, where)


def output_shape(case: Case) -> tuple[int, ...]:
    network = case.network
    if isinstance(network, RNNNetwork):
        return tuple(network.intermediate_shapes(case.batch, case.steps)["readout.out"])
    return tuple(network.intermediate_shapes(case.batch)[f"layers.{network.depth - 1}.out"])


def _answer(value: Any, shape: Sequence[int]) -> tuple[np.ndarray | None, str | None]:
    """(array, None) for an answer of the right shape (null entries read as NaN), else (None, what is wrong)."""
    if value is None:
        return None, "given as null"
    found, index, problem = shape_of(value)
    if found is None:
        return None, f"not an array{''.join(f'[{i}]' for i in index)}: {problem}"
    if tuple(found) != tuple(shape):
        return None, f"shape {list(found)} where the case has {list(shape)}"
    try:
        return np.array(value, dtype=np.float64).reshape(found), None
    except (TypeError, OverflowError):  # null entries, or a whole number beyond float64
        flat = np.array(value, dtype=object).reshape(-1)
        return np.array([_float(x) for x in flat], dtype=np.float64).reshape(found), None


def _float(value: Any) -> float:
    if value is None:
        return np.nan
    try:
        return float(value)
    except OverflowError:  # a whole number beyond float64: the infinity it overflows to
        return np.inf if value > 0 else -np.inf


def intermediate_shapes(case: Case) -> dict[str, tuple[int, ...]]:
    network = case.network
    if isinstance(network, RNNNetwork):
        return network.intermediate_shapes(case.batch, case.steps)
    return network.intermediate_shapes(case.batch)


def error_signal_shapes(case: Case) -> dict[str, tuple[int, ...]]:
    """The error signals a result may give: MLP dL/dout and dL/dnet per layer, RNN dL/dnet_t,
    dL/dh_t (t = 1..T) and dL/dh_0 (the names of Trace.error_signals)."""
    network = case.network
    if isinstance(network, RNNNetwork):
        steps_shape = (case.batch, case.steps, network.hidden_size)
        return {
            "rnn.grad_net": steps_shape,
            "rnn.grad_h": steps_shape,
            "rnn.grad_h0": (case.batch, network.hidden_size),
        }
    return {
        f"layers.{i}.{kind}": (case.batch, network.sizes[i + 1])
        for i in range(network.depth)
        for kind in ("grad_out", "grad_net")
    }


def _diagnostics(result: Result, case: Case, read: ResultTrace) -> None:
    """A result's optional intermediates (judged as answers) and error signals (for where it starts)."""
    doc = result.document
    for key, shapes in (("intermediates", intermediate_shapes(case)), ("error_signals", error_signal_shapes(case))):
        for name, value in doc.get(key, {}).items():
            if name not in shapes:
                result.fail(f"{key}.{name}", f"unknown name (this case has: {', '.join(shapes)})")
            if key == "intermediates":
                array = _take(read, key, name, value, shapes[name])
                if array is not None:
                    read.trace.intermediates[name] = array
                continue
            array, problem = _answer(value, shapes[name])
            if problem is not None:
                result.fail(f"{key}.{name}", problem)
            if array is not None:  # (a problem failed above)
                read.trace.error_signals[name] = array


def result_trace(result: Result, case: Case) -> ResultTrace:
    """The result as a Trace, the quantities not provided and the wrong answers; bad fields raise CaseError."""
    doc = result.document
    shapes = case.network.param_shapes()
    read = ResultTrace(Trace(outputs=None, loss=None))
    if case.train is None:
        for key in ("params_after", "loss_after"):
            if key in doc:
                result.fail(key, f"case {case.id!r} has no training, so nothing after it")
    for key in ("grads", "params_after"):
        for name in doc.get(key, {}):
            if name not in shapes:
                result.fail(f"{key}.{name}", f"unknown parameter (this case has: {', '.join(shapes)})")
    for key in QUANTITIES:
        if key not in doc:
            if not (key in ("params_after", "loss_after") and case.train is None):
                read.not_provided.append(key)
            continue
        if key in ("grads", "params_after"):
            given: dict[str, np.ndarray | None] = {}
            for name, shape in shapes.items():
                if name not in doc[key]:
                    read.not_provided.append(f"{key}.{name}")
                else:
                    given[name] = _take(read, key, name, doc[key][name], shape)
            setattr(read.trace, key, {k: v for k, v in given.items() if v is not None})
        elif key == "outputs":
            read.trace.outputs = _take(read, key, "outputs", doc[key], output_shape(case))
        else:
            loss = _take(read, key, "loss", doc[key], ())
            setattr(read.trace, key, None if loss is None else float(loss))
    _diagnostics(result, case, read)
    return read


def _take(read: ResultTrace, quantity: str, tensor: str, value: Any, shape: Sequence[int]) -> np.ndarray | None:
    """The answer as an array when it has the case's shape (else None, and noted as wrong)."""
    array, problem = _answer(value, shape)
    if problem is None:
        read.provided.add((quantity, tensor))
    else:
        read.wrong.append((quantity, tensor, problem))
        if problem.startswith("shape"):
            given = np.array(value, dtype=object)
            numbers = np.array([_float(x) for x in given.reshape(-1)])
            read.wrong_values[(quantity, tensor)] = numbers.reshape(given.shape)
    return array


def wrong_answer_rows(read: ResultTrace, case: Case, oracles: Sequence[str]) -> list[Check]:
    """A failed row per wrong answer and per reference that would have judged it."""
    rows = []
    for quantity, tensor, problem in read.wrong:
        references = []
        if "torch" in oracles:
            references.append("torch-autograd")
        if "fd" in oracles and quantity == "grads":
            references.append("finite-difference")
        if "expected" in oracles and _published(case, quantity, tensor):
            references.append("expected")
        for reference in references:
            tolerance = tolerance_for(case, reference)
            rows.append(
                Check(
                    quantity=quantity,
                    tensor=tensor,
                    reference=reference,
                    max_abs_err=np.inf,
                    max_rel_err=np.inf,
                    worst_index=[],
                    atol=tolerance.atol,
                    rtol=tolerance.rtol,
                    passed=False,
                    note=f"wrong answer: {problem}",
                )
            )
    return diagnose_checks(case, read.trace, rows, given=read.wrong_values)


def _published(case: Case, quantity: str, tensor: str) -> bool:
    expected = case.expected
    if expected is None:
        return False
    value = getattr(expected, quantity)
    return tensor in value if isinstance(value, dict) else value is not None
