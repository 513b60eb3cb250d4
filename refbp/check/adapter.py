"""Checking a Python implementation in process, through the adapter protocol (docs/formats.md):

    factory(case: dict) -> implementation | None        # None: this case is not supported
    implementation.forward(params, inputs) -> outputs
    implementation.loss(params, inputs, targets) -> float
    implementation.gradients(params, inputs, targets) -> {parameter name: dL/dparameter}
    implementation.train(params, inputs, targets) -> params after the case's training   # optional
    implementation.intermediates(params, inputs) -> {"layers.0.net": ..., ...}           # optional
    implementation.error_signals(params, inputs, targets) -> {"layers.0.grad_net": ...}  # optional

`case` is the case's explicit refbp-case/1 document with every array a numpy array of the
case's dtype (class indices: int64). This module only calls the implementation and records
what it answered as a Trace; the checking layer judges it like any other trace.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from refbp.cases import Case
from refbp.cases.dtypes import carrier
from refbp.cases.export import explicit_document

from ..diagnosis.crash import crash_line
from ..trace import Trace
from .adapter_factory import AdapterError as AdapterError
from .adapter_factory import implementation_version as implementation_version
from .adapter_factory import load_factory as load_factory
from .provided import NotProvided
from .verdict import Check

ARRAY_FIELDS = ("inputs", "targets", "h0")


class Declined(Exception):
    """The factory returned None: the implementation does not support this case."""


@dataclass
class Answer:
    """What an implementation answered for one case."""

    trace: Trace
    provided: set[tuple[str, str]] = field(default_factory=set)  # (quantity, tensor) pairs it gave
    not_provided: list[str] = field(default_factory=list)  # quantities it does not give
    # (quantity, tensor) pairs the case asks for, absent, and NOT declared not provided: failed rows.
    missing: set[tuple[str, str]] = field(default_factory=set)
    # (quantity, tensor, what is wrong): answers that cannot be judged as numbers (a tensor the case
    # does not have, complex values), each a failed check, worded as `refbp verify` words them.
    wrong: list[tuple[str, str, str]] = field(default_factory=list)

    def wrong_rows(self, case: Case, oracles: Sequence[str]) -> list[Check]:
        """A failed row per wrong answer and per reference that would have judged it."""
        from .results import ResultTrace, wrong_answer_rows

        return wrong_answer_rows(ResultTrace(self.trace, wrong=list(self.wrong)), case, oracles) if self.wrong else []


def case_document(case: Case, dtype: str | None = None) -> dict[str, Any]:
    """The explicit document with numpy arrays of the case's dtype, or of `dtype` (class
    indices stay int64)."""
    document = explicit_document(case)
    carried = carrier(dtype or case.dtype)  # bfloat16's numbers travel in float32 (refbp.cases.dtypes.carrier)
    document["params"] = {name: value.astype(carried) for name, value in case.params.items()}
    for key in ARRAY_FIELDS:
        value = getattr(case, key, None)
        if value is not None:
            document[key] = value.astype(np.int64 if value.dtype.kind == "i" else carried)
    return document


def answer(factory: Callable[..., Any], case: Case) -> Answer:
    """Everything the implementation gives for `case` (raises Declined, or what it raised).
    numpy's floating-point warnings are silenced: a NaN or an overflow in an answer is judged
    as a failed check, not printed as noise."""
    with np.errstate(all="ignore"):
        return _answer(factory, case)


def _answer(factory: Callable[..., Any], case: Case) -> Answer:
    document = case_document(case)
    implementation = factory(document)
    if implementation is None:
        raise Declined(case.id)
    # What it declares it does not compute (refbp.check.provided): "not provided", never a failure.
    declared = NotProvided.of(getattr(factory, "__wrapped__", factory), implementation)

    def fresh(name: str) -> Any:  # every call gets its own copies: an implementation may write into its arguments
        value = document[name]
        return {k: v.copy() for k, v in value.items()} if isinstance(value, dict) else value.copy()

    wrong: list[tuple[str, str, str]] = []  # (quantity, tensor, problem), as Answer.wrong
    parameters = list(case.network.param_shapes())
    start = time.perf_counter()
    outputs = (
        None
        if declared.quantity("outputs")
        else _real(implementation.forward(fresh("params"), fresh("inputs")), wrong, "outputs", "outputs")
    )
    forward_s = time.perf_counter() - start
    loss = (
        None
        if declared.quantity("loss")
        else _real(implementation.loss(fresh("params"), fresh("inputs"), fresh("targets")), wrong, "loss", "loss")
    )
    start = time.perf_counter()
    grads = _reals(
        implementation.gradients(fresh("params"), fresh("inputs"), fresh("targets")), wrong, "grads", parameters
    )
    backward_s = time.perf_counter() - start
    trace = Trace(
        outputs=outputs,
        loss=None if loss is None else float(loss),
        grads=grads,
        timings={"forward": forward_s, "backward": backward_s},
    )
    provided = (
        ({("outputs", "outputs")} if outputs is not None else set())
        | ({("loss", "loss")} if loss is not None else set())
        | {("grads", name) for name in grads}
    )
    not_provided = [q for q, given in (("outputs", outputs), ("loss", loss)) if given is None and declared.quantity(q)]
    absent = [name for name in parameters if name not in grads]
    not_provided += [f"grads.{name}" for name in absent]
    missing = {("grads", name) for name in absent if not declared.tensor("grads", name)}
    not_provided.append("input_grads")
    # Optional: where a wrong answer starts.
    if callable(getattr(implementation, "intermediates", None)) and not declared.quantity("intermediates"):
        trace.intermediates = _reals(
            implementation.intermediates(fresh("params"), fresh("inputs")), wrong, "intermediates"
        )
        provided |= {("intermediates", name) for name in trace.intermediates}
    else:
        not_provided.insert(0, "intermediates")
    if callable(getattr(implementation, "error_signals", None)):  # for the diagnosis only: complex ones left out
        trace.error_signals = _reals(
            implementation.error_signals(fresh("params"), fresh("inputs"), fresh("targets")), [], "error_signals"
        )
    # Training needs the gradient of every parameter it updates: one declared not provided
    # leaves the training unjudgeable (its answer would differ for that reason alone).
    untrained = [name for name in absent if name not in case.train.frozen] if case.train is not None else []
    if (
        case.train is not None
        and callable(getattr(implementation, "train", None))
        and not untrained
        and not declared.quantity("params_after")
    ):
        start = time.perf_counter()
        try:
            after = _reals(
                implementation.train(fresh("params"), fresh("inputs"), fresh("targets")),
                wrong,
                "params_after",
                parameters,
            )
        except Exception as exc:  # its training raised: the training fails, what it gave before is judged
            raised = f"train() raised {crash_line(exc)}"
            wrong += [("params_after", name, raised) for name in parameters] + [("loss_after", "loss", raised)]
            return Answer(trace, provided, not_provided, missing=missing, wrong=wrong)
        trace.timings["train"] = time.perf_counter() - start
        trace.params_after = after
        provided |= {("params_after", name) for name in after}
        for name in parameters:
            if name not in after:
                not_provided.append(f"params_after.{name}")
                if not declared.tensor("params_after", name):
                    missing.add(("params_after", name))
        # Its loss after training needs every parameter.
        if set(after) == set(parameters) and not declared.quantity("loss_after"):
            as_dtype = {k: v.astype(carrier(case.dtype)) for k, v in after.items()}
            loss_after = _real(
                implementation.loss(as_dtype, fresh("inputs"), fresh("targets")), wrong, "loss_after", "loss"
            )
            if loss_after is not None:
                trace.loss_after = float(loss_after)
                provided.add(("loss_after", "loss"))
        else:
            not_provided.append("loss_after")
    elif case.train is not None:
        not_provided += ["params_after", "loss_after"]
    return Answer(trace, provided, not_provided, missing=missing, wrong=wrong)


def own_loss_function(factory: Callable[..., Any], case: Case) -> Callable[[Mapping[str, Any]], float]:
    """The implementation's own `loss` as loss(params) -> float in float64, for finite
    differences of its own forward (does its backward match its forward?)."""
    document = case_document(case, "float64")
    implementation = factory(document)
    if implementation is None:
        raise Declined(case.id)
    inputs, targets = document["inputs"], document["targets"]

    def loss(params: Mapping[str, Any]) -> float:
        value = _real(
            implementation.loss(
                {k: np.array(v, dtype=np.float64) for k, v in params.items()}, inputs.copy(), targets.copy()
            ),
            [],
            "loss",
            "loss",
        )
        return float(value) if value is not None else np.nan  # complex: already a failed check of its loss

    return loss


def _real(value: Any, wrong: list[tuple[str, str, str]], quantity: str, tensor: str) -> np.ndarray | None:
    """The answer as a float64 array (anything numpy.asarray accepts, a torch tensor through its
    numpy form); None, with (quantity, tensor, problem) appended to `wrong`,
    for complex values whose imaginary part is not zero (never dropped silently, never a
    ComplexWarning). A complex answer whose imaginary parts are all zero is its real part."""
    if hasattr(value, "detach"):
        value = value.detach().cpu()
        if getattr(value, "dtype", None) is not None and str(value.dtype) == "torch.bfloat16":
            value = value.float()  # numpy has no bfloat16 of torch's: widened exactly
        value = value.resolve_conj().numpy() if value.is_complex() else value.numpy()
    array = np.asarray(value)
    if np.iscomplexobj(array):
        imaginary = float(np.max(np.abs(array.imag), initial=0.0))
        if imaginary != 0.0:
            wrong.append((quantity, tensor, f"complex values: imaginary part up to {imaginary:.3g}"))
            return None
        array = array.real
    return np.asarray(array, dtype=np.float64)


def _reals(
    given: Any, wrong: list[tuple[str, str, str]], quantity: str, known: Sequence[str] | None = None
) -> dict[str, np.ndarray]:
    """{name: float64 array} of a dict the implementation returned; a name that is not one of
    `known` (the case's parameters) and a complex tensor are wrong answers (appended to `wrong`)."""
    arrays: dict[str, np.ndarray] = {}
    for name, value in dict(given).items():
        name = str(name)
        if known is not None and name not in known:
            wrong.append((quantity, name, f"unknown parameter (this case has: {', '.join(known)})"))
            continue
        array = _real(value, wrong, quantity, name)
        if array is not None:
            arrays[name] = array
    return arrays
