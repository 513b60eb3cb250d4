"""Finite-difference rows whose verdict is the gradient's, not the reference's own doing.

  - an entry whose finite difference is not finite (the loss is not finite at its points,
    or a form returned NaN) is never left out silently: `unjudged_entries` counts them, and
    the row that holds them fails (refbp.check.check_case);
  - an entry that fails against central differences is judged again by a more accurate
    method before its row fails (`escalate_failures`: oracle.fd.escalated, the complex step
    where the network is analytic, else Richardson). Central differences only guess their
    truncation error from the curvature (oracle.fd.steps.central_error); with large weights
    or inputs the guess falls short and a correct gradient would fail. The better method
    judges only those entries, so a correct check costs nothing more, and a wrong entry
    still fails (the better method's own error is measured, not guessed).
"""

from __future__ import annotations

import numpy as np

from oracle.fd import FiniteDifference, escalated

from ..loss_forms import LossForms
from .tolerance import FD_ERROR_FACTOR

ESCALATED_FROM = ("central", "sampled")


def unjudged_entries(result: FiniteDifference, name: str) -> int:
    """Entries the method evaluated (a step was taken) whose finite difference is not finite,
    leaving out non-differentiable points (reported as such)."""
    evaluated = np.isfinite(result.steps[name]) & ~result.kink_mask(name)
    return int(np.sum(evaluated & ~np.isfinite(result.grads[name])))


def failing_entries(grads: dict, result: FiniteDifference, tolerance) -> dict[str, np.ndarray]:
    """{tensor: flat indices} of the judged entries outside atol + rtol |fd| + FD_ERROR_FACTOR e."""
    failing = {}
    for name, fd in result.grads.items():
        actual = grads.get(name)
        if actual is None or np.shape(actual) != fd.shape:
            continue
        allowed = tolerance.atol + tolerance.rtol * np.abs(fd) + FD_ERROR_FACTOR * result.errors[name]
        with np.errstate(invalid="ignore"):
            outside = ~(np.abs(np.asarray(actual, dtype=np.float64) - fd) <= allowed)
        bad = np.isfinite(fd) & outside & ~result.kink_mask(name)
        if bad.any():
            failing[name] = np.flatnonzero(bad)
    return failing


def escalate_failures(forms: LossForms, params: dict, grads: dict, result: FiniteDifference,
                      tolerance) -> FiniteDifference:
    """`result` with its failing entries (central or sampled) replaced by a more accurate
    method's values, steps and error estimates, and a note saying how many and which method."""
    if result.method not in ESCALATED_FROM:
        return result
    failing = failing_entries(grads, result, tolerance)
    if not failing:
        return result
    better = escalated(forms, params, failing)
    replaced = 0
    for name, indices in failing.items():
        # An entry whose wider stencil reaches a kink keeps central's value (and its verdict):
        # escalating must never turn a failure into an unjudged entry.
        at_kink = better.kink_mask(name).reshape(-1)[indices]
        indices = indices[~at_kink]
        for key in ("grads", "steps", "errors"):
            getattr(result, key)[name].reshape(-1)[indices] = getattr(better, key)[name].reshape(-1)[indices]
        replaced += len(indices)
    result.evaluations += better.evaluations
    if replaced:
        result.notes.append(f"{replaced} entries outside the tolerance against central differences (whose "
                            f"truncation error is a guess) judged by {better.method} instead")
    return result
