"""Reading results of other implementations (`refbp-result/1`, `refbp-results/1` bundles).

A result holds what an implementation computed for one case; every quantity is optional,
and a quantity that is absent is "not provided", never passed. Shapes are checked against
the case, with the file, the field and both shapes named.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cases import CaseError, RNNNetwork, read_json
from cases.load import parse_array

from ..trace import Trace

RESULT_FORMAT = "refbp-result/1"
BUNDLE_FORMAT = "refbp-results/1"
RESULT_FIELDS = {"format", "case", "implementation", "outputs", "loss", "grads", "params_after", "loss_after"}
BUNDLE_FIELDS = {"format", "implementation", "results"}
QUANTITIES = ("outputs", "loss", "grads", "params_after", "loss_after")


@dataclass
class Result:
    case: str
    implementation: str
    document: dict
    path: Path
    where: str  # "" for a single result, "results[3]." inside a bundle

    def fail(self, field: str, problem: str):
        raise CaseError(self.path, f"{self.where}{field}", problem)


def read_results(path) -> list[Result]:
    """Every result in a file; a malformed file raises CaseError naming file and field."""
    path = Path(path)
    document = read_json(path)
    if not isinstance(document, dict):
        raise CaseError(path, "", "a result must be a JSON object")
    kind = document.get("format")
    if kind == RESULT_FORMAT:
        return [_result(document, path, "", None)]
    if kind == BUNDLE_FORMAT:
        _check_fields(document, BUNDLE_FIELDS, path, "")
        results = document.get("results")
        if not isinstance(results, list) or not results:
            raise CaseError(path, "results", "must be a non-empty list of refbp-result/1 objects")
        return [_result(r, path, f"results[{i}].", document.get("implementation")) for i, r in enumerate(results)]
    raise CaseError(path, "format", f"unknown format {kind!r} (this reader knows {RESULT_FORMAT!r} and {BUNDLE_FORMAT!r})")


def _check_fields(document, allowed, path, where):
    for key in document:
        if key not in allowed:
            raise CaseError(path, f"{where}{key}", f"unknown field (allowed: {', '.join(sorted(allowed))})")


def _result(document, path, where, bundle_implementation) -> Result:
    if not isinstance(document, dict):
        raise CaseError(path, where.rstrip("."), "must be a JSON object")
    if where and "format" not in document:
        document = dict(document, format=RESULT_FORMAT)
    _check_fields(document, RESULT_FIELDS, path, where)
    if document.get("format") != RESULT_FORMAT:
        raise CaseError(path, f"{where}format", f"unknown format {document.get('format')!r}")
    case = document.get("case")
    if not isinstance(case, str) or not case:
        raise CaseError(path, f"{where}case", "must name the case id")
    implementation = document.get("implementation", bundle_implementation) or "unnamed implementation"
    if not isinstance(implementation, str):
        raise CaseError(path, f"{where}implementation", "must be a string")
    return Result(case, implementation, document, path, where)


def output_shape(case) -> tuple:
    network = case.network
    if isinstance(network, RNNNetwork):
        return network.intermediate_shapes(case.batch, case.steps)["readout.out"]
    return network.intermediate_shapes(case.batch)[f"layers.{network.depth - 1}.out"]


def result_trace(result: Result, case) -> tuple[Trace, list[str], set]:
    """The result as a Trace, the list of quantities not provided, and the (quantity, tensor) pairs provided."""
    doc = result.document
    shapes = case.network.param_shapes()
    provided: set = set()
    not_provided: list[str] = []

    def array(value, field, shape):
        return parse_array(value, result.path, f"{result.where}{field}", shape=shape)

    def scalar(key):
        value = doc[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            result.fail(key, f"must be a number, not {type(value).__name__}")
        return float(value)

    def tensors(key):
        given = doc[key]
        if not isinstance(given, dict):
            result.fail(key, "must be an object of tensors by parameter name")
        out = {}
        for name in given:
            if name not in shapes:
                result.fail(f"{key}.{name}", f"unknown parameter (this case has: {', '.join(shapes)})")
        for name, shape in shapes.items():
            if name in given:
                out[name] = array(given[name], f"{key}.{name}", shape)
                provided.add((key, name))
            else:
                not_provided.append(f"{key}.{name}")
        return out

    trace = Trace(outputs=None, loss=None)
    if case.train is None:
        for key in ("params_after", "loss_after"):
            if key in doc:
                result.fail(key, f"case {case.id!r} has no training, so nothing after it")
    for key in QUANTITIES:
        if key not in doc:
            if key in ("params_after", "loss_after") and case.train is None:
                continue
            not_provided.append(key)
            continue
        if key == "outputs":
            trace.outputs = array(doc["outputs"], "outputs", output_shape(case))
            provided.add(("outputs", "outputs"))
        elif key in ("loss", "loss_after"):
            setattr(trace, key, scalar(key))
            provided.add((key, "loss"))
        else:
            setattr(trace, key, tensors(key))
    return trace, not_provided, provided
