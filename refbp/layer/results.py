"""`refbp verify` of layer answers: `refbp-layer-result/1` files (docs/formats.md section 12), each
an implementation's output and gradients for one layer case, judged against torch autograd in
float64 (computed now, at the case's inputs) and against the case's expected values.

Only what a result gives is judged; what it leaves out is "not provided" (`outputs` or `loss`,
`grads.<input>`), never passed. A wrong answer (a value, a shape, NaN, an infinity, null) is a
failed row naming the tensor (exit 1); a file that is not of the format, an unknown case or input
name, or a second result for one case is bad input naming the file and the field (exit 2).
Weight gradients given in the other layout (`"layout"` of the result) are read in it.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from refbp.cases import SUITE_DIR, CaseError, read_json
from refbp.cases.arrays import index_text, shape_of
from refbp.cases.layer_case import WEIGHTS, LayerCase, gradients_of, layer_format
from refbp.cases.load import discover
from refbp.cases.schema import validate

from ..check.verdict import CaseVerdict
from .cases import EXPECTED, expected_rows, find_layer_cases, input_error
from .check import ATOL, RTOL, TORCH, _row
from .diagnose import diagnose
from .functions import is_loss

RESULT_FORMAT = "refbp-layer-result/1"


def layer_result_files(paths) -> list:
    """The layer result files under `paths` (the other files are left to refbp.check.verify)."""
    files: list = []
    discover(paths, [], layer_files=files)
    return [f for f in files if layer_format(f).startswith("refbp-layer-result")]


def verify_layer_results(files, case_paths=None) -> list[CaseVerdict]:
    """A verdict per layer result file, in order (after those of case files that could not be
    read); the cases from `case_paths` (default: the installed suite)."""
    found = find_layer_cases(case_paths or [SUITE_DIR])
    cases = {case.id: case for case in found.cases}
    verdicts: list[CaseVerdict] = list(found.bad)
    judged: dict[str, str] = {}
    for path in files:
        try:
            document = read_json(path, allow_non_finite=True)
            if not isinstance(document, dict):
                raise CaseError(path, "", f"a layer result must be a JSON object, not {type(document).__name__}")
            if document.get("format") != RESULT_FORMAT:
                raise CaseError(
                    path,
                    "format",
                    f"unknown format {str(document.get('format'))[:40]!r} (this reader knows {RESULT_FORMAT!r})",
                )
            validate(document, "layer-result", path)
            case = cases.get(document["case"])
            if case is None:
                known = ", ".join(sorted(cases)[:6]) + (" ..." if len(cases) > 6 else "")
                raise CaseError(
                    path, "case", f"unknown layer case {document['case'][:60]!r} (known: {known or 'none'})"
                )
            if case.id in judged:
                raise CaseError(path, "case", f"a second result for {case.id!r} (the first: {judged[case.id]})")
            judged[case.id] = str(path)
            verdicts.append(verify_layer_result(document, path, case))
        except CaseError as exc:
            verdicts.append(input_error(path, str(exc), case=str(path)))
    return verdicts


def verify_layer_result(document: dict, path, case: LayerCase) -> CaseVerdict:
    """The verdict of one layer result (a parsed, schema-valid document) against its case."""
    from refbp.oracle.torch_layers import layer_reference  # torch: imported where a layer is judged

    start = time.perf_counter()
    function, implementation = case.function, document.get("implementation") or "unnamed implementation"
    names = gradients_of(function)
    for name in document.get("grads", {}):
        if name not in names:
            raise CaseError(path, f"grads.{name}", f"{function} has no gradient {name!r} (it has: {', '.join(names)})")
    flip = document.get("layout", case.layout) != case.layout
    output = _answer(document["output"], path, "output") if "output" in document else None
    grads = {}
    for name, value in document.get("grads", {}).items():
        answer = _answer(value, path, f"grads.{name}")
        grads[name] = answer.T if flip and name in WEIGHTS and answer.ndim == 2 else answer
    reference_out, reference = layer_reference(function, case.inputs, case.upstream, case.layout)
    ones = (
        {} if is_loss(function) else layer_reference(function, case.inputs, np.ones_like(case.upstream), case.layout)[1]
    )
    quantity = "loss" if is_loss(function) else "outputs"
    checks = [] if output is None else [_row(quantity, quantity, TORCH, output, reference_out, ATOL, RTOL)]
    for name in names:
        if name in grads:
            row = _row("grads", f"{function}.{name}", TORCH, grads[name], reference[name], ATOL, RTOL)
            if not row.passed:
                diagnosis, note = diagnose(
                    function, name, grads[name], reference[name], case.inputs, case.upstream, ones, ATOL, RTOL
                )
                row = replace(row, diagnosis=diagnosis, diagnosis_note=note)
            checks.append(row)
    checks += expected_rows(function, output, grads, case.output, case.grads, checks)
    not_provided = ([] if output is not None else [quantity]) + [f"grads.{n}" for n in names if n not in grads]
    errors = (
        []
        if checks
        else [f"{path}: provides no quantity that can be checked (not provided: {', '.join(not_provided)})"]
    )
    return CaseVerdict(
        case=case.id,
        implementation=implementation,
        passed=bool(checks) and all(c.passed for c in checks),
        checks=checks,
        not_provided=not_provided,
        errors=errors,
        path=str(path),
        title=case.title,
        network=f"layer {function}",
        dtype="float64",
        seconds=time.perf_counter() - start,
    )


def _answer(value, path, field: str) -> np.ndarray:
    """An answer as float64 (null entries and NaN literals read as NaN: wrong answers, judged);
    a ragged or empty list is bad input naming the entry."""
    if value is None:
        return np.asarray(np.nan)
    found, index, problem = shape_of(value)
    if found is None:
        raise CaseError(path, field + index_text(index), problem)
    flat = np.array(value, dtype=object).reshape(-1) if found else [value]
    return np.array([_float(v) for v in flat], dtype=np.float64).reshape(found)


def _float(value) -> float:
    if value is None:
        return np.nan
    try:
        return float(value)
    except OverflowError:  # a whole number beyond float64: the infinity it overflows to
        return np.inf if value > 0 else -np.inf


__all__ = ["EXPECTED", "RESULT_FORMAT", "layer_result_files", "verify_layer_result", "verify_layer_results"]
