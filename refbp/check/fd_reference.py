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
  - an entry that still fails, by any entry-wise method, has the noise of the loss along it
    measured (`judge_noisy_entries`: oracle.fd.noise, Moré and Wild's ECnoise). Every method
    assumes the loss is rounded by a few ulps; where the loss as computed is noisier (bce's
    log(1 - y) at y = 1 - 1e-11 keeps five digits of 1 - y; an output rounded to exactly 1
    makes the clamped loss jump), the entry is judged by Richardson with the measured noise
    in its error estimate: an honest estimate, large there, so the row notes a weak check
    instead of a false alarm. A wrong gradient adds no noise to the loss: its entries keep
    failing (measured noise of a few ulps changes nothing);
  - an entry that fails even so, in a bce case with an output y whose 1 - y is within
    BCE_QUANTIZED of 1 (refbp.check.tolerance), is reported at a non-differentiable point, not
    judged (`quantized_outputs`): there 1 - y moves in steps of 2^-53, a large share of itself,
    so the computed loss is a staircase, flat between jumps over whole stencils, and no finite
    difference of it measures the derivative (torch autograd still judges the gradient).
"""

from __future__ import annotations

import numpy as np

from oracle.fd import RELATIVE_STEP, FiniteDifference, LossNoise, escalated, loss_rounding, richardson

from ..loss_forms import LossForms
from .tolerance import BCE_QUANTIZED, FD_ERROR_FACTOR

ESCALATED_FROM = ("central", "sampled")
NOISE_JUDGED = ("central", "sampled", "richardson", "complex")   # every entry-wise method
NOISE_BATCH = 16   # failing entries of a tensor measured at a time (judge_noisy_entries)


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
                      tolerance, quantized: list[str] = ()) -> FiniteDifference:
    """`result` with its failing entries (central or sampled) replaced by a more accurate
    method's values, steps and error estimates, and a note saying how many and which method;
    then entries still failing judged with the loss's measured noise, and those failing even
    so where `quantized` names outputs (`quantized_outputs`) reported at them, not judged."""
    if result.method in ESCALATED_FROM:
        failing = failing_entries(grads, result, tolerance)
        if failing:
            better = escalated(forms, params, failing)
            replaced = _replace(result, better, failing)
            if replaced:
                result.notes.append(f"{replaced} entries outside the tolerance against central differences (whose "
                                    f"truncation error is a guess) judged by {better.method} instead")
    if result.method in NOISE_JUDGED:
        judge_noisy_entries(forms, params, grads, result, tolerance)
        if quantized:
            for name, indices in failing_entries(grads, result, tolerance).items():
                shape = result.grads[name].shape
                found = result.kinks.setdefault(name, {})
                for index in indices:
                    found[tuple(int(i) for i in np.unravel_index(int(index), shape))] = quantized[0]
    return result


def quantized_outputs(loss: str, outputs) -> list[str]:
    """The outputs at which a bce loss as computed is a staircase (1 - y < BCE_QUANTIZED), as
    units of a non-differentiable point, e.g. "outputs[3][0] (bce at 1 - y = 1.1e-16: ...)"."""
    if loss != "bce" or outputs is None:
        return []
    y = np.asarray(outputs, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        where = np.argwhere(1.0 - y < BCE_QUANTIZED)
    return [f"outputs{''.join(f'[{int(i)}]' for i in index)} (bce at 1 - y = {1.0 - y[tuple(index)]:.2g}: its loss as "
            "computed is a staircase there)" for index in where]


def judge_noisy_entries(forms: LossForms, params: dict, grads: dict, result: FiniteDifference, tolerance) -> None:
    """The entries of `result` still failing, where the loss is measurably noisier than the few
    ulps every method assumes, judged again by Richardson with the measured noise in its error
    estimate (in place, with a note); the others keep their value and verdict.

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
            level = probe.along(name, batch)
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
        replaced += _replace(result, judged, noisy)
        noisy = {name: indices[judged.kink_mask(name).reshape(-1)[indices]] for name, indices in noisy.items()}
        noisy = {name: indices for name, indices in noisy.items() if indices.size}
    if replaced:
        largest = max(float(np.nanmax(r, initial=0.0)) for r in rounding.values())
        result.notes.append(f"{replaced} entries where the loss as computed is noisier than its rounding (measured "
                            f"noise up to {largest:.2g}, Moré-Wild ECnoise) judged by richardson with that noise")


def _replace(result: FiniteDifference, better: FiniteDifference, entries: dict) -> int:
    """Put `better`'s values, steps and errors at `entries` into `result`; how many were put.
    An entry whose wider stencil reaches a kink keeps its value (and its verdict): judging
    again must never turn a failure into an unjudged entry."""
    replaced = 0
    for name, indices in entries.items():
        at_kink = better.kink_mask(name).reshape(-1)[indices]
        indices = indices[~at_kink]
        for key in ("grads", "steps", "errors"):
            getattr(result, key)[name].reshape(-1)[indices] = getattr(better, key)[name].reshape(-1)[indices]
        replaced += len(indices)
    result.evaluations += better.evaluations
    return replaced
