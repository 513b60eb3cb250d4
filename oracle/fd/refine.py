"""A finite difference made better where the checker asks, and telling where it is blind: the
references' side of judging by finite differences (refbp.check.fd_reference asks, for the
entries an answer disagrees with, and only compares).

  - `escalate`: entries judged again by a more accurate method (refbp.oracle.fd.escalated: the
    complex step where the network is analytic, else Richardson). Central differences only
    guess their truncation error from the curvature; with large weights or inputs the guess
    falls short. The better method's own error is measured, not guessed.
  - `with_measured_noise`: entries where the loss as computed is noisier than the few ulps
    every method assumes (bce's log(1 - y) at y = 1 - 6.6e-12 keeps five digits of 1 - y, a
    staircase in steps of 2^-53), measured along each entry (refbp.oracle.fd.noise, Moré and Wild's
    ECnoise) or from the formula (`output_rounding`), judged again by Richardson with that
    noise in its error estimate: honest, large there. A wrong gradient adds no noise to the
    loss.
  - `mark_blind`: entries whose one-sided derivatives disagree (refbp.oracle.fd.one_sided: a kink, a
    clamp or a jump within the stencil) are put with `result.kinks`: not judged here.
Every operation works in place on a FiniteDifference and records which method gave each
replaced value (`judged_by`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from refbp.loss_forms import LossForms

from . import escalated
from .methods import Select, richardson
from .noise import LossNoise
from .one_sided import blind_entries
from .result import FiniteDifference
from .steps import RELATIVE_STEP, loss_rounding

NOISE_BATCH = 16  # entries of a tensor measured at a time (with_measured_noise)
# How an entry judged with the loss's measured rounding is named (its measurement: Moré and
# Wild's ECnoise, or its outputs' rounding through the loss).
NOISE_METHOD = "richardson with the loss's measured noise (ECnoise)"
BLIND = "one-sided differences disagree"  # a kink, a clamp or a jump within the stencil

Params = dict[str, NDArray[Any]]
Entries = dict[str, NDArray[np.int64]]  # {tensor: flat indices}


def escalate(forms: LossForms, params: Params, result: FiniteDifference, entries: Entries) -> None:
    """The `entries` ({tensor: flat indices}) judged again by a more accurate method."""
    better = escalated(forms, params, entries)
    replace(result, better, entries, better.method)


def with_measured_noise(
    forms: LossForms, params: Params, result: FiniteDifference, ordered: Entries, output_noise: float = 0.0
) -> None:
    """The entries of `ordered` ({tensor: flat indices, the most doubtful first}) where the loss
    is noisier than assumed (measured along the entry, or `output_noise`) judged again by
    Richardson with that noise. A tensor's entries are measured in batches; at the first entry
    whose loss is as smooth as assumed the rest stay as they are (a wrong gradient fails every
    entry, and measuring them all would cost a finite difference many times over)."""
    if not ordered:
        return
    probe = LossNoise(forms, params)
    assumed = loss_rounding(probe.evaluator.base_loss)
    noisy: Entries = {}
    rounding: dict[str, NDArray[Any]] = {}
    for name, indices in ordered.items():
        rounding[name] = np.full(np.size(params[name]), np.nan)
        found: list[NDArray[np.int64]] = []
        for start in range(0, indices.size, NOISE_BATCH):
            batch = indices[start : start + NOISE_BATCH]
            level = np.fmax(probe.along(name, batch), output_noise)
            explained = level > assumed
            rounding[name][batch[explained]] = level[explained]
            found.append(batch[explained])
            if not explained.all():
                break
        noisy[name] = np.concatenate(found) if found else np.zeros(0, dtype=np.int64)
    result.evaluations += probe.evaluations
    noisy = {name: indices for name, indices in noisy.items() if indices.size}
    replaced = 0
    # Richardson's usual step first (the rounding it divides by h is the smaller there); where
    # that wider stencil reaches a kink, on central differences' own step (the span over
    # which the noise was measured without meeting one).
    for relative in (RELATIVE_STEP["richardson"], RELATIVE_STEP["central"]):
        if not noisy:
            break
        judged = richardson(forms, params, select=_entries_of(params, noisy), relative=relative, rounding=rounding)
        replaced += replace(result, judged, noisy, NOISE_METHOD)
        noisy = {name: indices[judged.kink_mask(name).reshape(-1)[indices]] for name, indices in noisy.items()}
        noisy = {name: indices for name, indices in noisy.items() if indices.size}
    if replaced:
        largest = max(float(np.nanmax(r, initial=0.0)) for r in rounding.values())
        result.largest_noise = max(result.largest_noise, largest)


def _entries_of(params: Params, entries: Entries) -> Select:
    """The `select` of a finite difference of `entries` only (bound now: `entries` changes after)."""
    chosen = {name: np.asarray(entries.get(name, ()), dtype=np.int64) for name in params}

    def select(name: str, tensor: NDArray[Any]) -> NDArray[np.int64]:
        return chosen[name]

    return select


def mark_blind(
    forms: LossForms, params: Params, result: FiniteDifference, ordered: Entries, atol: float, rtol: float
) -> None:
    """Put with `result.kinks` the entries of `ordered` ({tensor: flat indices, the most
    doubtful first}) whose one-sided derivatives disagree, up to the first where they agree."""
    for name, indices in ordered.items():
        blind, evaluations = blind_entries(
            forms.loss, params, name, indices, result.steps[name].reshape(-1), atol, rtol
        )
        result.evaluations += evaluations
        if not blind.size:
            continue
        kinks = result.kinks.setdefault(name, {})
        for index in blind:
            kinks.setdefault(tuple(int(j) for j in np.unravel_index(int(index), result.grads[name].shape)), BLIND)


def output_rounding(loss: str, outputs: Any, targets: Any) -> float:
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


def replace(result: FiniteDifference, better: FiniteDifference, entries: Entries, method: str) -> int:
    """Put `better`'s values, steps and errors at `entries` into `result`, recording `method` as
    what judged them (`result.judged_by`); how many were put. An entry whose wider stencil
    reaches a kink keeps its value (and its verdict): judging again must never turn a failure
    into an unjudged entry."""
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
