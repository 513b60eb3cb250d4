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
    still fails (the better method's own error is measured, not guessed);
  - an entry that still fails, by any entry-wise method, is judged again with the rounding of
    the loss as it is, not as assumed (`judge_noisy_entries`). Every method assumes one loss
    evaluation is rounded by a few ulps of the loss; bce's log(1 - y) at y = 1 - 6.6e-12
    keeps only five digits of 1 - y, a staircase in steps of 2^-53 (an output rounded to
    exactly 1 makes the clamped loss jump). The rounding of the loss is then the larger of
    its noise measured along the entry (oracle.fd.noise, Moré and Wild's ECnoise) and what
    the loss's formula does to its outputs' own rounding (`output_rounding`: a step narrower
    than a stair sees the loss flat, and no measurement along it can tell). Where that
    exceeds the assumed rounding, the entry is judged by Richardson with it in its error
    estimate: honest, large there, so the row notes a weak check instead of a false alarm.
    A wrong gradient adds no noise to the loss: its entries keep failing.
"""

from __future__ import annotations

import numpy as np

from oracle.fd import RELATIVE_STEP, FiniteDifference, LossNoise, escalated, loss_rounding, richardson
from oracle.fd.one_sided import blind_directions, blind_entries

from ..loss_forms import LossForms
from .tolerance import FD_ERROR_FACTOR

ESCALATED_FROM = ("central", "sampled")
NOISE_JUDGED = ("central", "sampled", "richardson", "complex")   # every entry-wise method
NOISE_BATCH = 16   # failing entries of a tensor measured at a time (judge_noisy_entries)


CONVENTION_POINT = "where conventions differ"


def mark_convention_points(result: FiniteDifference, admissible, tolerance) -> int:
    """Put the entries where the admissible conventions differ (refbp.check.conventions) with
    the kinks of `result`: one finite difference is one convention's value there at best, and
    the torch rows judge them under all. Returns how many were marked."""
    if admissible is None or not admissible.has_choices() and not admissible.others:
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
    if marked and result.directions:   # every random direction moves every entry
        result.directional_kinks = {i: CONVENTION_POINT for i in range(len(result.directions))}
    return marked


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
                      tolerance, output_noise: float = 0.0) -> FiniteDifference:
    """`result` with its failing entries (central or sampled) replaced by a more accurate
    method's values, steps and error estimates, and a note saying how many and which method;
    then the entries still failing judged with the loss's rounding as it is
    (`judge_noisy_entries`; `output_noise`: `output_rounding` of the case)."""
    if result.method in ESCALATED_FROM:
        failing = failing_entries(grads, result, tolerance)
        if failing:
            better = escalated(forms, params, failing)
            _replace(result, better, failing, better.method)
    if result.method in NOISE_JUDGED:
        judge_noisy_entries(forms, params, grads, result, tolerance, output_noise)
    if result.method != "directional":
        mark_blind_entries(forms, params, grads, result, tolerance)
    else:
        mark_blind_directions(forms, params, grads, result, tolerance)
    return result


BLIND = "one-sided differences disagree"   # a kink, a clamp or a jump within the stencil


def mark_blind_entries(forms: LossForms, params: dict, grads: dict, result: FiniteDifference, tolerance) -> None:
    """The entries still failing where the loss is not smooth over the stencil (oracle.fd.one_sided),
    put with the kinks of `result`: the finite difference cannot judge them, the torch rows do."""
    failing = failing_entries(grads, result, tolerance)
    marked = 0
    for name, indices in failing.items():
        actual = np.asarray(grads[name], dtype=np.float64).reshape(-1)[indices]
        fd = result.grads[name].reshape(-1)[indices]
        ordered = indices[np.argsort(-np.abs(actual - fd), kind="stable")]
        blind, evaluations = blind_entries(forms.loss, params, name, ordered, result.steps[name].reshape(-1),
                                           tolerance.atol, tolerance.rtol)
        result.evaluations += evaluations
        kinks = result.kinks.setdefault(name, {})
        for index in blind:
            kinks.setdefault(tuple(int(j) for j in np.unravel_index(int(index), result.grads[name].shape)), BLIND)
            marked += 1


def mark_blind_directions(forms: LossForms, params: dict, grads: dict, result: FiniteDifference, tolerance) -> None:
    """`mark_blind_entries` for the directional check's failing directions."""
    if not result.directions or any(grads.get(n) is None for n in result.directions[0]):
        return
    actual = np.array([sum(float(np.sum(np.asarray(grads[n], dtype=np.float64) * u[n])) for n in u)
                       for u in result.directions])
    allowed = tolerance.atol + tolerance.rtol * np.abs(result.directional) + FD_ERROR_FACTOR * result.directional_errors
    with np.errstate(invalid="ignore"):
        failing = [i for i in np.argsort(-np.abs(actual - result.directional), kind="stable")
                   if not np.abs(actual[i] - result.directional[i]) <= allowed[i] and i not in result.directional_kinks]
    blind, evaluations = blind_directions(forms.loss, params, result.directions, failing, result.directional_step,
                                          tolerance.atol, tolerance.rtol)
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


def _entrywise_failures(forms: LossForms, params: dict, grads: dict, tolerance) -> bool:
    """Whether central differences, escalated and noise-judged, find a wrong entry."""
    from oracle.fd import finite_difference

    result = finite_difference("central", forms, params)
    escalate_failures(forms, params, grads, result, tolerance)
    return bool(failing_entries(grads, result, tolerance)) or any(
        unjudged_entries(result, name) for name in result.grads)


def output_rounding(loss: str, outputs, targets) -> float:
    """What the loss's formula makes of its outputs' own rounding (half an ulp each), to first
    order: sum_i |dL/dy_i| ulp(y_i) / 2. Only bce's is more than a few ulps of the loss: its
    log(1 - y) divides the rounding of y near 1 by 1 - y (the other losses, and log y near 0,
    where floats are dense, stay within a few ulps). An output at exactly 0 or 1 is clamped,
    flat: it adds nothing (a jump within reach is what the measured noise sees)."""
    if loss != "bce" or outputs is None or targets is None:
        return 0.0
    y = np.asarray(outputs, dtype=np.float64)
    t = np.broadcast_to(np.asarray(targets, dtype=np.float64), y.shape)
    inside = (y > 0.0) & (y < 1.0)
    y, t = y[inside], t[inside]
    slope = (1.0 - t) / (1.0 - y) + t / y
    return float(np.sum(slope * np.spacing(y)) / 2.0 / max(np.size(outputs), 1))


def judge_noisy_entries(forms: LossForms, params: dict, grads: dict, result: FiniteDifference, tolerance,
                        output_noise: float = 0.0) -> None:
    """The entries of `result` still failing, where the loss is noisier than the few ulps every
    method assumes (measured along the entry, or `output_noise`), judged again by Richardson
    with that noise in its error estimate (in place, with a note); the others keep their
    value and verdict.

    A tensor's failing entries are measured in batches, the worst first; at the first entry
    that fails without noise to explain it, the row fails anyway and the rest stay as they are
    (a wrong gradient fails every entry, and measuring them all would cost a finite
    difference many times over)."""
    failing = failing_entries(grads, result, tolerance)
    if not failing:
        return
    probe = LossNoise(forms, params)
    assumed = loss_rounding(probe.evaluator.base_loss)
    noisy, rounding = {}, {}
    for name, indices in failing.items():
        actual = np.asarray(grads[name], dtype=np.float64).reshape(-1)[indices]
        fd = result.grads[name].reshape(-1)[indices]
        allowed = tolerance.atol + tolerance.rtol * np.abs(fd) + FD_ERROR_FACTOR * result.errors[name].reshape(-1)[indices]
        ordered = indices[np.argsort(-np.abs(actual - fd) / allowed, kind="stable")]
        rounding[name] = np.full(np.size(params[name]), np.nan)
        found = []
        for start in range(0, ordered.size, NOISE_BATCH):
            batch = ordered[start:start + NOISE_BATCH]
            level = np.fmax(probe.along(name, batch), output_noise)
            explained = level > assumed
            rounding[name][batch[explained]] = level[explained]
            found.append(batch[explained])
            if not explained.all():
                break
        noisy[name] = np.concatenate(found)
    result.evaluations += probe.evaluations
    noisy = {name: indices for name, indices in noisy.items() if indices.size}
    replaced = 0
    # Richardson's usual step first (the rounding it divides by h is the smaller there); where
    # that wider stencil reaches a kink, on central differences' own step (the span over
    # which the noise was measured without meeting one).
    for relative in (RELATIVE_STEP["richardson"], RELATIVE_STEP["central"]):
        if not noisy:
            break
        chosen = {name: np.asarray(noisy.get(name, ()), dtype=np.int64) for name in params}
        judged = richardson(forms, params, select=lambda name, tensor: chosen[name], relative=relative,
                            rounding=rounding)
        replaced += _replace(result, judged, noisy, NOISE_METHOD)
        noisy = {name: indices[judged.kink_mask(name).reshape(-1)[indices]] for name, indices in noisy.items()}
        noisy = {name: indices for name, indices in noisy.items() if indices.size}
    if replaced:
        largest = max(float(np.nanmax(r, initial=0.0)) for r in rounding.values())
        result.largest_noise = max(result.largest_noise, largest)


# How an entry judged with the loss's measured rounding is named in a row's note (its
# measurement: Moré and Wild's ECnoise, or its outputs' rounding through the loss).
NOISE_METHOD = "richardson with the loss's measured noise (ECnoise)"


def _replace(result: FiniteDifference, better: FiniteDifference, entries: dict, method: str) -> int:
    """Put `better`'s values, steps and errors at `entries` into `result`, recording `method` as
    what judged them (`result.judged_by`); how many were put.
    An entry whose wider stencil reaches a kink keeps its value (and its verdict): judging
    again must never turn a failure into an unjudged entry."""
    replaced = 0
    for name, indices in entries.items():
        at_kink = better.kink_mask(name).reshape(-1)[indices]
        indices = indices[~at_kink]
        for key in ("grads", "steps", "errors"):
            getattr(result, key)[name].reshape(-1)[indices] = getattr(better, key)[name].reshape(-1)[indices]
        judged_by = result.judged_by.setdefault(name, {})
        for index in indices:
            judged_by[int(index)] = method
        replaced += len(indices)
    result.evaluations += better.evaluations
    return replaced
