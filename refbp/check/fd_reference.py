"""Judging by finite differences, the checking side: which entries an answer disagrees with,
what to ask the references about them, and the comparison. The references compute the values
and say where they are blind (refbp.oracle.fd, refbp.oracle.fd.refine); this module only compares and asks:

  - an entry whose finite difference is not finite (the loss is not finite at its points,
    or a form returned NaN) is never left out silently: `unjudged_entries` counts them, and
    the row that holds them fails (refbp.check.fd_rows);
  - an entry where the admissible conventions differ (refbp.check.conventions) is not judged
    by finite differences (`mark_convention_points`): the torch rows judge it;
  - an entry that fails against central differences is judged again by a more accurate method
    (refbp.oracle.fd.refine.escalate), then, still failing, with the loss's measured noise
    (with_measured_noise), then, still failing, its one-sided derivatives are compared
    (mark_blind); only what still fails after all three fails its row;
  - a failing random direction is tested for one-sided agreement, then confirmed entry by entry.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from refbp.cases import Tolerance
from refbp.oracle.fd import FiniteDifference
from refbp.oracle.fd.one_sided import blind_directions
from refbp.oracle.fd.refine import BLIND, NOISE_METHOD, escalate, mark_blind, output_rounding, with_measured_noise  # noqa: F401

from ..loss_forms import LossForms
from .conventions import Admissible
from .tolerance import FD_ERROR_FACTOR

Arrays = dict[str, Any]  # {name: array}: parameters, an answer's gradients

ESCALATED_FROM = ("central", "sampled")
NOISE_JUDGED = ("central", "sampled", "richardson", "complex")  # every entry-wise method


CONVENTION_POINT = "where conventions differ"
# The reference of the rows against the implementation's own loss (refbp.check.own_forward).
OWN_FORWARD = "own-forward-fd"
# An own-forward-fd entry of an implementation whose loss rounds its parameters (refbp.check.own_rounded).
ROUNDED = "its loss rounds its parameters to the case's dtype"


def mark_convention_points(result: FiniteDifference, admissible: Admissible | None, tolerance: Tolerance) -> int:
    """Put the entries where the admissible conventions differ (refbp.check.conventions) with
    the kinks of `result`: one finite difference is one convention's value there at best, and
    the torch rows judge them under all. Returns how many were marked."""
    if admissible is None or (not admissible.has_choices() and not admissible.others):
        return 0
    marked = 0
    for name in result.grads:
        differ = admissible.sensitive("grads", name, tolerance.atol, tolerance.rtol)
        if differ is None or differ.shape != result.grads[name].shape:
            continue
        kinks = result.kinks.setdefault(name, {})
        for index in zip(*np.nonzero(differ)):
            kinks.setdefault(tuple(int(i) for i in index), CONVENTION_POINT)
            marked += 1
    if marked and result.directions:  # every random direction moves every entry
        result.directional_kinks = dict.fromkeys(range(len(result.directions)), CONVENTION_POINT)
    return marked


def unjudged_entries(result: FiniteDifference, name: str) -> int:
    """Entries the method evaluated (a step was taken) whose finite difference is not finite,
    leaving out non-differentiable points (reported as such)."""
    evaluated = np.isfinite(result.steps[name]) & ~result.kink_mask(name)
    return int(np.sum(evaluated & ~np.isfinite(result.grads[name])))


def failing_entries(grads: Arrays, result: FiniteDifference, tolerance: Tolerance) -> dict[str, np.ndarray]:
    """{tensor: flat indices} of the judged entries outside atol + rtol |fd| + FD_ERROR_FACTOR e."""
    failing: dict[str, np.ndarray] = {}
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


def escalate_failures(
    forms: LossForms,
    params: Arrays,
    grads: Arrays,
    result: FiniteDifference,
    tolerance: Tolerance,
    output_noise: float = 0.0,
) -> FiniteDifference:
    """`result` where the answer `grads` disagrees with it, made better by the references, step by
    step (module docstring); `output_noise`: refbp.oracle.fd.refine.output_rounding of the case."""
    if result.method in ESCALATED_FROM:
        failing = failing_entries(grads, result, tolerance)
        if failing:
            escalate(forms, params, result, failing)
    if result.method in NOISE_JUDGED:
        judge_noisy_entries(forms, params, grads, result, tolerance, output_noise)
    if result.method != "directional":
        mark_blind_entries(forms, params, grads, result, tolerance)
    else:
        mark_blind_directions(forms, params, grads, result, tolerance)
    return result


def worst_first(grads: Arrays, result: FiniteDifference, tolerance: Tolerance) -> dict[str, np.ndarray]:
    """The failing entries of each tensor, the furthest out of tolerance first."""
    ordered: dict[str, np.ndarray] = {}
    for name, indices in failing_entries(grads, result, tolerance).items():
        actual = np.asarray(grads[name], dtype=np.float64).reshape(-1)[indices]
        fd = result.grads[name].reshape(-1)[indices]
        estimate = result.errors[name].reshape(-1)[indices]
        allowed = tolerance.atol + tolerance.rtol * np.abs(fd) + FD_ERROR_FACTOR * estimate
        ordered[name] = indices[np.argsort(-np.abs(actual - fd) / allowed, kind="stable")]
    return ordered


def judge_noisy_entries(
    forms: LossForms,
    params: Arrays,
    grads: Arrays,
    result: FiniteDifference,
    tolerance: Tolerance,
    output_noise: float = 0.0,
) -> None:
    """The entries still failing, judged again where the loss is noisier than assumed."""
    with_measured_noise(forms, params, result, worst_first(grads, result, tolerance), output_noise)


def mark_blind_entries(
    forms: LossForms, params: Arrays, grads: Arrays, result: FiniteDifference, tolerance: Tolerance
) -> None:
    """The entries still failing where the loss is not smooth over the stencil, put with the
    kinks of `result`: the finite difference cannot judge them, the torch rows do."""
    mark_blind(forms, params, result, worst_first(grads, result, tolerance), tolerance.atol, tolerance.rtol)


def mark_blind_directions(
    forms: LossForms, params: Arrays, grads: Arrays, result: FiniteDifference, tolerance: Tolerance
) -> None:
    """`mark_blind_entries` for the directional check's failing directions."""
    directional, errors = result.directional, result.directional_errors
    if not result.directions or any(grads.get(n) is None for n in result.directions[0]):
        return
    if directional is None or errors is None:  # (a directional result has both)
        return
    actual = np.array(
        [sum(float(np.sum(np.asarray(grads[n], dtype=np.float64) * u[n])) for n in u) for u in result.directions]
    )
    allowed = tolerance.atol + tolerance.rtol * np.abs(directional) + FD_ERROR_FACTOR * errors
    with np.errstate(invalid="ignore"):
        failing = [
            i
            for i in np.argsort(-np.abs(actual - directional), kind="stable")
            if not np.abs(actual[i] - directional[i]) <= allowed[i] and i not in result.directional_kinks
        ]
    blind, evaluations = blind_directions(
        forms.loss, params, result.directions, failing, result.directional_step, tolerance.atol, tolerance.rtol
    )
    result.evaluations += evaluations
    for i in blind:
        result.directional_kinks.setdefault(int(i), BLIND)
    still = [i for i in failing if i not in blind]
    if still and not _entrywise_failures(forms, params, grads, tolerance):
        # A direction sums every entry's error: where the loss is noisy or large, its one number
        # can miss by more than its tolerance while every entry, judged on its own (with
        # escalation and the loss's measured noise), is right. Only a wrong entry fails it.
        for i in still:
            result.directional_kinks.setdefault(int(i), NOT_CONFIRMED)


# A direction sums every entry's error; where each entry judged on its own passes, the
# direction's own error exceeded its tolerance.
NOT_CONFIRMED = "no entry fails on its own"

KINK = "at a kink"
# Reasons an entry is not judged that are words of their own; any other reason is the name of the
# kinked unit its stencil reaches, counted as KINK.
NAMED_REASONS = (CONVENTION_POINT, BLIND, NOT_CONFIRMED, ROUNDED)


def reason_word(reason: str) -> str:
    """What a not-judged entry is counted under: its reason's own words, or KINK for a unit's name."""
    return reason if reason in NAMED_REASONS else KINK


def _entrywise_failures(forms: LossForms, params: Arrays, grads: Arrays, tolerance: Tolerance) -> bool:
    """Whether central differences, escalated and noise-judged, find a wrong entry."""
    from refbp.oracle.fd import finite_difference

    result = finite_difference("central", forms, params)
    escalate_failures(forms, params, grads, result, tolerance)
    return bool(failing_entries(grads, result, tolerance)) or any(
        unjudged_entries(result, name) for name in result.grads
    )
