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

import importlib
import importlib.util
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cases import Case
from cases.export import explicit_document

from ..trace import Trace
from . import watch

ARRAY_FIELDS = ("inputs", "targets", "h0")


class AdapterError(ValueError):
    """--impl names nothing that can be imported and called (a usage problem, exit 2)."""


class Declined(Exception):
    """The factory returned None: the implementation does not support this case."""


@dataclass
class Answer:
    """What an implementation answered for one case."""

    trace: Trace
    provided: set = field(default_factory=set)       # (quantity, tensor) pairs it gave
    not_provided: list = field(default_factory=list)  # quantities it does not give


def load_factory(spec: str):
    """`package.module:factory` or `path/to/file.py:factory` -> the callable."""
    module_name, sep, attribute = spec.rpartition(":")
    if not sep or not module_name or not attribute:
        raise AdapterError(f"--impl {spec!r}: expected MODULE:FACTORY or FILE.py:FACTORY")
    try:
        # Watched in a guarded worker (refbp.check.watch): an import that exits or hangs is named.
        if module_name.endswith(".py") or "/" in module_name:
            module = watch.call("import", _module_from_file, Path(module_name))
        else:
            module = watch.call("import", _module_by_name, module_name)
    except AdapterError:
        raise
    except Exception as exc:
        raise AdapterError(f"--impl {spec!r}: cannot import {module_name}: {type(exc).__name__}: {exc}") from exc
    factory = getattr(module, attribute, None)
    if not callable(factory):
        raise AdapterError(f"--impl {spec!r}: {module_name} has no callable {attribute!r}")
    return watch.watched(factory)


def implementation_version(factory) -> str:
    """The `__version__` of the factory's module or of its top-level package ("" when neither says)."""
    factory = getattr(factory, "__wrapped__", factory)  # a watched factory (refbp.check.watch): the user's own
    module_name = getattr(factory, "__module__", "") or ""
    for name in (module_name, module_name.partition(".")[0]):
        version = getattr(sys.modules.get(name), "__version__", None)
        if version:
            return str(version)
    return ""


def _module_by_name(name: str):
    """`import name`, from the current folder too (as `python -m` would): a user runs
    `refbp check --impl mypkg.nets:factory` from their project's root."""
    here = str(Path.cwd())
    if here in sys.path:
        return importlib.import_module(name)
    sys.path.insert(0, here)
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(here)


def _module_from_file(path: Path):
    if not path.is_file():
        raise AdapterError(f"--impl: {path}: no such file")
    name = f"refbp_impl_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def case_document(case: Case, dtype: str | None = None) -> dict:
    """The explicit document with numpy arrays of the case's dtype, or of `dtype` (class
    indices stay int64)."""
    document = explicit_document(case)
    dtype = np.dtype(dtype or case.dtype)
    document["params"] = {name: value.astype(dtype) for name, value in case.params.items()}
    for key in ARRAY_FIELDS:
        value = getattr(case, key, None)
        if value is not None:
            document[key] = value.astype(np.int64 if value.dtype.kind == "i" else dtype)
    return document


def answer(factory, case: Case) -> Answer:
    """Everything the implementation gives for `case` (raises Declined, or what it raised).
    numpy's floating-point warnings are silenced: a NaN or an overflow in an answer is judged
    as a failed check, not printed as noise."""
    with np.errstate(all="ignore"):
        return _answer(factory, case)


def _answer(factory, case: Case) -> Answer:
    document = case_document(case)
    implementation = factory(document)
    if implementation is None:
        raise Declined(case.id)

    def fresh(name):  # every call gets its own copies: an implementation may write into its arguments
        value = document[name]
        return {k: v.copy() for k, v in value.items()} if isinstance(value, dict) else value.copy()

    start = time.perf_counter()
    outputs = _array(implementation.forward(fresh("params"), fresh("inputs")))
    forward_s = time.perf_counter() - start
    loss = float(implementation.loss(fresh("params"), fresh("inputs"), fresh("targets")))
    start = time.perf_counter()
    grads = {str(k): _array(v) for k, v in dict(implementation.gradients(
        fresh("params"), fresh("inputs"), fresh("targets"))).items()}
    backward_s = time.perf_counter() - start
    trace = Trace(outputs=outputs, loss=loss, grads=grads, timings={"forward": forward_s, "backward": backward_s})
    provided = {("outputs", "outputs"), ("loss", "loss")} | {("grads", name) for name in grads}
    not_provided = ["input_grads"]
    if callable(getattr(implementation, "intermediates", None)):  # optional: where a wrong answer starts
        trace.intermediates = {str(k): _array(v) for k, v in dict(
            implementation.intermediates(fresh("params"), fresh("inputs"))).items()}
        provided |= {("intermediates", name) for name in trace.intermediates}
    else:
        not_provided.insert(0, "intermediates")
    if callable(getattr(implementation, "error_signals", None)):
        trace.error_signals = {str(k): _array(v) for k, v in dict(
            implementation.error_signals(fresh("params"), fresh("inputs"), fresh("targets"))).items()}
    if case.train is not None and callable(getattr(implementation, "train", None)):
        start = time.perf_counter()
        after = {str(k): _array(v) for k, v in dict(implementation.train(
            fresh("params"), fresh("inputs"), fresh("targets"))).items()}
        trace.timings["train"] = time.perf_counter() - start
        trace.params_after = after
        as_dtype = {k: v.astype(case.dtype) for k, v in after.items()}
        trace.loss_after = float(implementation.loss(as_dtype, fresh("inputs"), fresh("targets")))
        provided |= {("params_after", name) for name in after} | {("loss_after", "loss")}
    elif case.train is not None:
        not_provided += ["params_after", "loss_after"]
    return Answer(trace, provided, not_provided)


def own_loss_function(factory, case: Case):
    """The implementation's own `loss` as loss(params) -> float in float64, for finite
    differences of its own forward (does its backward match its forward?)."""
    document = case_document(case, "float64")
    implementation = factory(document)
    if implementation is None:
        raise Declined(case.id)
    inputs, targets = document["inputs"], document["targets"]

    def loss(params: dict) -> float:
        return float(implementation.loss({k: np.array(v, dtype=np.float64) for k, v in params.items()},
                                         inputs.copy(), targets.copy()))

    return loss


def _array(value) -> np.ndarray:
    """Anything numpy.asarray accepts (a torch tensor through its numpy form), as float64."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float64)
