"""Layer cases (`refbp-layer-case/1`, refbp.cases.layer_case) checked on a layers module or a
program: found under the paths of a run, each given to the declared function it names, its inputs
in the layout the implementation declared (weights transposed where the case's differ), and judged
as refbp.layer.check judges an input set of the library (torch autograd in float64, finite
differences of its own forward), and against the case's expected values (rows of reference
`expected`). One verdict per case, named by the case's id."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from refbp.cases import SUITE_DIR, CaseError
from refbp.cases.layer_case import WEIGHTS, LayerCase, layer_format, load_layer_case
from refbp.cases.load import discover

from ..check.states import ErrorKind
from ..check.verdict import CaseVerdict
from .check import ATOL, RTOL, _row, check_example
from .declaration import Bound
from .functions import Example, is_loss

EXPECTED = "expected"


@dataclass
class LayerCases:
    """The layer cases under some paths, in the order found, and the files that could not be read
    (their one-line input-error verdicts); `others`: the whole-network case files found beside."""

    cases: list[LayerCase] = field(default_factory=list)
    bad: list[CaseVerdict] = field(default_factory=list)
    others: int = 0


def find_layer_cases(paths) -> LayerCases:
    """Every layer case under `paths` (files and folders, as `discover` searches them; the installed
    suite when none)."""
    files: list = []
    unreadable: list[CaseError] = []
    found = LayerCases()
    found.others = len(discover(paths or [SUITE_DIR], unreadable, layer_files=files))
    seen: dict[str, LayerCase] = {}
    for path in files:
        try:
            case = load_layer_case(path)
            first = seen.get(case.id)
            if first is not None and first.document != case.document:
                raise CaseError(path, "id", f"{case.id!r} is already used by {first.path} with other content")
        except CaseError as exc:
            found.bad.append(input_error(path, str(exc)))
            continue
        if first is None:
            seen[case.id] = case
            found.cases.append(case)
    return found


def count_layer_cases(paths) -> int:
    """How many layer case files lie under `paths` (the installed suite when none), unread."""
    files: list = []
    discover(paths or [SUITE_DIR], [], layer_files=files)
    return sum(layer_format(f).startswith("refbp-layer-case") for f in files)


def input_error(path, message: str, case: str = "", implementation: str = "") -> CaseVerdict:
    return CaseVerdict(
        case=case or str(path),
        implementation=implementation,
        passed=False,
        errors=[message],
        path=str(path),
        error_kind=ErrorKind.INPUT,  # bad input (exit 2), as refbp.check.suite.input_error's
    )


def in_layout(case: LayerCase, layout: str) -> tuple[Example, np.ndarray, dict]:
    """The case's input set, its expected output and gradients, with the weights laid out `layout`."""
    flip = case.layout != layout

    def laid(name, value):
        return np.ascontiguousarray(value.T) if flip and name in WEIGHTS else value

    inputs = {name: laid(name, value).copy() for name, value in case.inputs.items()}
    upstream = float(case.upstream) if is_loss(case.function) else case.upstream.copy()
    grads = {name: laid(name, value) for name, value in case.grads.items()}
    return Example(case.id, inputs, upstream), case.output, grads


def check_layer_case(layer: Bound, case: LayerCase, name: str) -> CaseVerdict:
    """The verdict of `layer` on `case`: refbp.layer.check's rows, and each answer against the
    case's expected values."""
    example, output, grads = in_layout(case, layer.layout)
    answers: list = []

    def recorded(inputs, upstream):  # the answer the check gets, kept to compare with `expected`
        answer = layer.call(inputs, upstream)
        if upstream is not None:
            answers.append(answer)
        return answer

    verdict = check_example(replace(layer, call=recorded), example, name)
    errors = [e.replace(f"layer:{case.id}:", f"{case.id}:", 1) for e in verdict.errors]
    checks = list(verdict.checks)
    if answers:
        checks += expected_rows(case.function, answers[0][0], answers[0][1], output, grads, checks)
    return replace(
        verdict,
        case=case.id,
        path=str(case.path or ""),
        title=case.title or verdict.title,
        errors=errors,
        checks=checks,
        passed=not errors and all(c.passed for c in checks),
    )


def expected_rows(function: str, out, grads: dict, output, expected: dict, judged=()) -> list:
    """Rows of reference `expected`: the answer's output and each gradient given against the case's
    numbers (a failed row takes the diagnosis of the torch row of its tensor, when there is one)."""
    diagnoses = {
        (c.quantity, c.tensor): (c.diagnosis, c.diagnosis_note)
        for c in judged
        if c.reference == "torch-autograd" and c.diagnosis
    }
    quantity = "loss" if is_loss(function) else "outputs"
    rows = [] if out is None else [_row(quantity, quantity, EXPECTED, out, output, ATOL, RTOL)]
    for tensor, value in expected.items():
        if tensor in grads:
            rows.append(_row("grads", f"{function}.{tensor}", EXPECTED, grads[tensor], value, ATOL, RTOL))
    return [
        replace(
            row,
            diagnosis=diagnoses.get((row.quantity, row.tensor), ("unknown", ""))[0],
            diagnosis_note=diagnoses.get((row.quantity, row.tensor), ("", "differs from the case's expected value"))[1],
        )
        if not row.passed
        else row
        for row in rows
    ]


def check_cases(bound: list[Bound], cases: list[LayerCase], name: str) -> tuple[list[CaseVerdict], list[LayerCase]]:
    """(the verdicts of the cases whose function is declared, the cases of functions not declared)."""
    by_function = {layer.function: layer for layer in bound}
    verdicts, left = [], []
    for case in cases:
        layer = by_function.get(case.function)
        if layer is None:
            left.append(case)
        else:
            verdicts.append(check_layer_case(layer, case, name))
    return verdicts, left


def not_checked_note(left: list[LayerCase], why: str) -> str:
    """One line for the layer cases a run did not check (`why`: what did not offer their functions)."""
    functions = sorted({case.function for case in left})
    shown = ", ".join(functions[:6]) + (", ..." if len(functions) > 6 else "")
    return f"{len(left)} layer case(s) not checked ({shown}): {why}"
