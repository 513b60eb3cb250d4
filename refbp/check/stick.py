"""The measuring stick's arithmetic: torch's own trace at the case's precision and, per tensor, the
error it allows (refbp.check.precision builds the rows; refbp.check.tolerance holds K and the
floor, and gives the finite-difference rows a case-level tolerance from here).
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from refbp.cases import Case, Tolerance
from refbp.cases.dtypes import EPSILON, SMALLEST_NORMAL

from ..trace import Trace

# torch's traces of a case, per case object (a check asks for them more than once: its rows,
# then the case-level tolerance of the finite-difference rows).
_TRACES: weakref.WeakKeyDictionary[Case, Trace] = weakref.WeakKeyDictionary()


def judged_by_stick(case: Case) -> bool:
    """Whether `case` is judged against torch's own error at its precision."""
    return case.dtype != "float64" and case.tolerance is None


def torch_at_precision(case: Case) -> Trace:
    """torch's own trace of `case` at the case's dtype (CPU), kept while the case lives."""
    trace = _TRACES.get(case)
    if trace is None:
        from refbp.oracle.same_precision import same_precision_trace  # torch loads only where needed

        with np.errstate(all="ignore"):
            trace = same_precision_trace(case)
        _TRACES[case] = trace
    return trace


def allowance(
    case: Case,
    reference: Any,
    torch_value: Any,
    k: float,
    floor_ulps: float,
    rule: Tolerance | None = None,
    terms: float = 0.0,
    entry_terms: Any = None,
    terms_ulps: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, float]:
    """(allowed error per entry, inconclusive entries, torch's own error) of one tensor.

    torch's own error is its largest over the tensor: rounding errors are set by the size of the
    terms behind a value, not by the value (an output of 0.02 that sums terms of order one is off
    by as much as one of 2), and the error at one entry is a single random draw, which an honest
    implementation, rounding in another order, exceeds 3 to 5 times at some entry while its
    largest error stays within 2 x torch's largest (docs/precision.md: measured). The floor is the
    dtype's spacing at the tensor's scale S, the size of the terms behind its entries: an answer
    rounded once more than torch's (a product rounded before its bias is added, where torch fuses
    them) is off by an ulp of S, wherever its own value lies. `terms`: a larger size of the terms
    where the tensor's own entries understate it (a loss, reduced from the outputs). `k`,
    `floor_ulps` and `rule` (float32's, or None) come from refbp.check.tolerance's table.

    `entry_terms`: per entry, the size of the terms behind it (a weight gradient's |dL/dnet|^T |x|,
    an output's |W| |x| + |b| carried through, ...: refbp.oracle.rounding_terms, from the float64
    reference). Where an entry's terms
    cancel, its rounding is an ulp of them, however small the entry and the tensor: each entry
    is allowed at least `terms_ulps` x eps x its terms (a tensor of 6 entries of 9e-5 whose terms
    are 1e-3, where torch's own error is one lucky draw). The terms bound the rounding in the worst
    case (every error of one sign): a floor, never a reason to call an entry inconclusive."""
    reference = np.asarray(reference, dtype=np.float64)
    torch_value = np.broadcast_to(np.asarray(torch_value, dtype=np.float64), reference.shape)
    with np.errstate(invalid="ignore", over="ignore"):
        finite = np.isfinite(reference)
        seen = finite & np.isfinite(torch_value)
        error = float(np.max(np.abs(torch_value - reference)[seen], initial=0.0))
        scale = float(np.max(np.abs(reference[finite]), initial=0.0))
        floor_scale = max(scale, terms)
        floor = floor_ulps * EPSILON[case.dtype] * floor_scale + SMALLEST_NORMAL[case.dtype]
        allowed = np.full(reference.shape, max(k * error, floor))
        if entry_terms is not None and np.shape(entry_terms) == reference.shape:
            at_terms = terms_ulps * EPSILON[case.dtype] * np.asarray(entry_terms, dtype=np.float64)
            allowed = np.maximum(allowed, np.nan_to_num(at_terms, nan=0.0, posinf=0.0))  # none where they overflow
        if rule is not None:  # float32: its derived rule joins the stick, the larger of the two
            allowed = np.maximum(allowed, rule.atol + rule.rtol * np.abs(reference))
        blind = finite & ~seen
        if scale > 0 and k * error >= scale:  # torch has no digit of this tensor
            blind = finite.copy()
        if rule is not None:  # float32: its rule judges every entry, as before the stick joined it
            blind = np.zeros_like(finite)
    return allowed, blind, error


def case_tolerance(case: Case, k: float, floor_ulps: float, terms_ulps: float = 0.0) -> Tolerance:
    """One tolerance for the whole case, for the rows that take one (finite differences of the
    float64 definition and of the implementation's own loss, the published values): the widest
    allowance over the case's gradients (K x torch's largest error, or a floor), and the floor's
    relative part."""
    trace, at_precision = _float64_trace(case), torch_at_precision(case)
    terms = rounding_terms(case, trace).get("grads", {})
    widest = 0.0
    for name, ref in trace.grads.items():  # inconclusive tensors too: torch's rows say they are
        allowed, _, _ = allowance(
            case,
            ref,
            at_precision.grads.get(name, np.nan),
            k,
            floor_ulps,
            entry_terms=terms.get(name),
            terms_ulps=terms_ulps,
        )
        widest = max(widest, float(np.max(allowed, initial=0.0)))
    return Tolerance(atol=widest, rtol=floor_ulps * EPSILON[case.dtype])


_FLOAT64: weakref.WeakKeyDictionary[Case, Trace] = weakref.WeakKeyDictionary()
_TERMS: weakref.WeakKeyDictionary[Case, dict[str, dict[str, np.ndarray]]] = weakref.WeakKeyDictionary()


def rounding_terms(case: Case, reference: Trace) -> dict[str, dict[str, np.ndarray]]:
    """{quantity: {name: terms}}: the size of the terms behind each entry of `case`'s outputs,
    intermediates, gradients and input gradients (refbp.oracle.rounding_terms), from its float64
    reference trace; kept while the case lives."""
    terms = _TERMS.get(case)
    if terms is None:
        from refbp.oracle.rounding_terms import entry_terms as from_reference  # torch loads only where needed

        terms = from_reference(case, reference)
        _TERMS[case] = terms
    return terms


def _float64_trace(case: Case) -> Trace:
    trace = _FLOAT64.get(case)
    if trace is None:
        from refbp.oracle import torch_reference

        trace = torch_reference.trace(case)
        _FLOAT64[case] = trace
    return trace
