"""`assert_matches_torch`: a case run in refbp (or any implementation's trace) and in the torch
reference, forward, backward and training each compared with its own tolerance, every
failure labelled with its tensor and worst entry. One line per property test."""

from __future__ import annotations

from collections.abc import Iterable

from refbp.cases import Case, Tolerance, format_entry
from refbp.check.rows import rows
from refbp.check.tolerance import tolerance_for
from refbp.check.verdict import Check
from refbp.nn import compute_trace
from refbp.trace import Trace

REFERENCE = "torch-autograd"
# The quantities of a Trace, by the phase that computes them.
PHASES = {
    "forward": ("outputs", "loss", "intermediates"),
    "backward": ("grads", "input_grads"),
    "training": ("params_after", "loss_after"),
}


def assert_matches_torch(
    case: Case,
    trace: Trace | None = None,
    *,
    forward: Tolerance | None = None,
    backward: Tolerance | None = None,
    training: Tolerance | None = None,
    quantities: Iterable[str] | None = None,
) -> list[Check]:
    """Assert that `trace` (default: refbp's own, `refbp.nn.compute_trace(case)`) matches torch
    autograd in float64 on `case`.

    Each phase is judged with its own tolerance, by default the row of refbp's tolerance
    table (refbp/check/tolerance.py) for the case's dtype against torch-autograd (or the
    case's own `tolerance`). `quantities` limits the comparison to some of outputs, loss,
    intermediates, grads, input_grads, params_after, loss_after (default: all; the training
    ones only for a case that trains); a tensor the reference has and the trace lacks fails.

    Returns the rows judged, all passed; raises AssertionError naming, for every tensor out
    of tolerance, the phase, the quantity, the worst entry and both values there.
    """
    from refbp.oracle import torch_reference  # imported here: torch is slow to import, and only this needs it

    trace = compute_trace(case) if trace is None else trace
    reference = torch_reference.trace(case)
    table = tolerance_for(case, REFERENCE)
    tolerances = {"forward": forward or table, "backward": backward or table, "training": training or table}
    wanted = set(quantities) if quantities is not None else {q for qs in PHASES.values() for q in qs}
    judged: list[tuple[str, Check]] = []
    for phase, phase_quantities in PHASES.items():
        for quantity in phase_quantities:
            if quantity not in wanted or (phase == "training" and reference.params_after is None):
                continue
            judged += [
                (phase, row)
                for row in rows(
                    quantity, _tensors(trace, quantity), _tensors(reference, quantity), REFERENCE, tolerances[phase]
                )
            ]
    failed = [describe(phase, row) for phase, row in judged if not row.passed]
    if failed:
        raise AssertionError(
            f"{case.label()} ({case.network.describe()}, {case.dtype}) does not match torch:\n  " + "\n  ".join(failed)
        )
    return [row for _, row in judged]


def _tensors(trace: Trace, quantity: str) -> dict:
    value = getattr(trace, quantity)
    if quantity == "outputs":
        return {"outputs": value}
    if quantity in ("loss", "loss_after"):
        return {"loss": value}
    return value or {}


def describe(phase: str, row: Check) -> str:
    """`backward grads layers.0.weight[1][2]: 0.5 where torch has 0.25 (abs err ..., atol ...)`."""
    where = format_entry(row.tensor, row.worst_index)
    if row.note:
        return f"{phase} {row.quantity} {where}: {row.note}"
    return (
        f"{phase} {row.quantity} {where}: {row.actual:.10g} where torch has {row.expected_value:.10g} "
        f"(abs err {row.max_abs_err:.3g}, rel err {row.max_rel_err:.3g}; atol {row.atol:.3g}, rtol {row.rtol:.3g})"
    )
