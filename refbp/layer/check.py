"""Checking one layer's forward/backward pair (`refbp check --layer`): on every input set of the
library (refbp.layer.functions), its output and gradients against torch autograd in float64
(refbp.oracle.torch_layers), and its gradients against central differences of its OWN forward (does its
backward match its forward?). One verdict per input set, named `layer:<function>-b<B>-<values>`,
with the rows and diagnoses of any case verdict; a crash names its file and line."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from ..check.entrywise import compare
from ..check.verdict import CaseVerdict, Check, ErrorKind
from ..diagnosis.crash import crash_line
from .declaration import Bound
from .diagnose import diagnose
from .functions import KINKED, Example, examples, is_loss, parameters

TORCH = "torch-autograd"
OWN = "own-forward-fd"
ATOL, RTOL = 1e-10, 1e-7  # float64 against torch, as the cases' torch-autograd rows
FD_ATOL, FD_RTOL = 1e-6, 1e-5  # central differences of the layer's own forward
EPS = float(np.finfo(np.float64).eps)


def check_layers(bound: list[Bound], name: str) -> list[CaseVerdict]:
    """A verdict per declared function and input set."""
    return [
        check_example(layer, example, name) for layer in bound for example in examples(layer.function, layer.layout)
    ]


def check_example(layer: Bound, example: Example, name: str) -> CaseVerdict:
    from refbp.oracle.torch_layers import (
        layer_reference,  # torch: imported where a layer is checked
    )

    start = time.perf_counter()
    verdict = CaseVerdict(
        case=f"layer:{example.label}",
        implementation=name,
        passed=False,
        path=f"layer:{layer.function}",
        title=f"{layer.function} on {example.label}",
        network=f"layer {layer.function}",
        dtype="float64",
    )
    try:
        with np.errstate(all="ignore"):
            out, grads = layer.call(example.inputs, example.upstream)
    except Exception as exc:  # the implementation raised: this input set's error, the others go on
        return replace(
            verdict,
            error_kind=ErrorKind.CRASH,
            errors=[f"layer:{example.label}: the implementation raised {crash_line(exc)}"],
        )
    reference_out, reference = layer_reference(layer.function, example.inputs, example.upstream, layer.layout)
    reference = {tensor: reference[tensor] for tensor in parameters(layer.function)}  # a loss's targets: none
    ones = (
        {}
        if is_loss(layer.function)
        else layer_reference(layer.function, example.inputs, np.ones_like(np.asarray(example.upstream)), layer.layout)[
            1
        ]
    )
    quantity = "loss" if is_loss(layer.function) else "outputs"
    checks = [_row(quantity, quantity, TORCH, out, reference_out, ATOL, RTOL)]
    for tensor, expected in reference.items():
        row = _row("grads", f"{layer.function}.{tensor}", TORCH, grads.get(tensor), expected, ATOL, RTOL)
        if not row.passed:
            diagnosis, note = _diagnosis(layer, example, tensor, grads.get(tensor), expected, ones)
            row = replace(row, diagnosis=diagnosis, diagnosis_note=note)
        checks.append(row)
    checks += _own_rows(layer, example, grads, reference, ones)
    return replace(verdict, checks=checks, passed=all(c.passed for c in checks), seconds=time.perf_counter() - start)


def _diagnosis(layer, example, tensor, actual, expected, ones) -> tuple[str, str]:
    if actual is None:
        return "missing", "the backward gave no gradient for this input"
    return diagnose(layer.function, tensor, actual, expected, example.inputs, example.upstream, ones, ATOL, RTOL)


def _row(quantity: str, tensor: str, reference: str, actual, expected, atol: float, rtol: float, skip=None) -> Check:
    if actual is None:
        return Check(
            quantity=quantity,
            tensor=tensor,
            reference=reference,
            max_abs_err=np.inf,
            max_rel_err=np.inf,
            worst_index=[],
            atol=atol,
            rtol=rtol,
            passed=False,
            note="not given by the backward",
        )
    given = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if given.shape != expected.shape:
        if given.size == expected.size and given.size == 1:
            given = given.reshape(expected.shape)
        else:
            return Check(
                quantity=quantity,
                tensor=tensor,
                reference=reference,
                max_abs_err=np.inf,
                max_rel_err=np.inf,
                worst_index=[],
                atol=atol,
                rtol=rtol,
                passed=False,
                note=f"wrong answer: shape {list(given.shape)} where the reference has {list(expected.shape)}",
            )
    comparison = compare(given, expected, atol, rtol, skip=skip)
    return Check(
        quantity=quantity,
        tensor=tensor,
        reference=reference,
        max_abs_err=comparison.max_abs_err,
        max_rel_err=comparison.max_rel_err,
        worst_index=comparison.worst_index,
        atol=atol,
        rtol=rtol,
        passed=comparison.passed,
        note=comparison.note,
        checked=comparison.checked,
        actual=comparison.actual,
        expected_value=comparison.reference,
    )


def _own_rows(layer: Bound, example: Example, grads: dict, reference: dict, ones: dict) -> list[Check]:
    """Each gradient against central differences of <its own forward, upstream>: the two outputs are
    differenced entry by entry before they are weighted and summed (what the move leaves alone cancels
    exactly), and an entry whose differences' rounding exceeds the tolerance is left to the torch row
    (not judged here, counted in the row's `nondifferentiable`)."""
    upstream = np.asarray(example.upstream, dtype=np.float64)

    def output(inputs) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.asarray(layer.forward(inputs), dtype=np.float64)

    rows = []
    for tensor in reference:
        given = grads.get(tensor)
        if given is None or np.shape(given) != np.shape(reference[tensor]):
            continue  # the torch row already fails it, named
        base = example.inputs[tensor]
        fd, rounding = np.zeros(base.shape), np.zeros(base.shape)
        try:
            for index in np.ndindex(base.shape):
                h = 1e-6 * max(1.0, abs(float(base[index])))
                if layer.function in KINKED and tensor == "x" and base[index] != 0:
                    h = min(h, abs(float(base[index])) / 4.0)  # the stencil never reaches the kink at 0
                moved = {k: v.copy() for k, v in example.inputs.items()}
                moved[tensor][index] = base[index] + h
                step = moved[tensor][index] - base[index]  # the step as represented
                plus = output(moved)
                moved[tensor][index] = base[index] - step
                minus = output(moved)
                fd[index] = float(np.sum((plus - minus) * upstream)) / (2.0 * step)
                rounding[index] = (
                    4.0 * EPS * float(np.sum(np.maximum(np.abs(plus), np.abs(minus)) * np.abs(upstream))) / (2.0 * step)
                )
        except Exception as exc:
            rows.append(
                Check(
                    quantity="grads",
                    tensor=f"{layer.function}.{tensor}",
                    reference=OWN,
                    max_abs_err=np.inf,
                    max_rel_err=np.inf,
                    worst_index=[],
                    atol=FD_ATOL,
                    rtol=FD_RTOL,
                    passed=False,
                    note=f"its own forward raised {crash_line(exc)}",
                )
            )
            continue
        blind = rounding > FD_ATOL + FD_RTOL * np.abs(fd)
        row = replace(
            _row("grads", f"{layer.function}.{tensor}", OWN, given, fd, FD_ATOL, FD_RTOL, skip=blind), method="central"
        )
        if blind.any():
            row = replace(
                row,
                nondifferentiable=int(blind.sum()),
                note="; ".join(
                    filter(
                        None,
                        [row.note, f"{int(blind.sum())} entries the differences cannot resolve (torch judges them)"],
                    )
                ),
            )
        if not row.passed:
            torch_agrees = bool(np.allclose(given, reference[tensor], atol=ATOL, rtol=RTOL))
            diagnosis, note = (
                ("forward-mismatch", "the gradient is the true one, but its own forward is wrong")
                if torch_agrees
                else _diagnosis(layer, example, tensor, given, reference[tensor], ones)
            )
            row = replace(row, diagnosis=diagnosis, diagnosis_note=note)
        rows.append(row)
    return rows
