"""The computational noise of the loss along single entries, measured rather than assumed
(Moré and Wild's ECnoise).

Finite differences take the rounding of one loss evaluation to be a few ulps of the loss
(refbp.oracle.fd.steps.loss_rounding). A loss that amplifies the rounding of an intermediate value
breaks that: bce's log(1 - y) at y = 1 - 6.6e-12 keeps only about five digits of 1 - y, so
the loss as computed jitters a million times more than assumed, and a central difference (or
the complex step, which carries the same relative error of 1 - y) is off by far more than
its error estimate. An output rounded to exactly 1 makes the loss jump (its log, clamped,
goes from -36.7 to -100): no finite difference across that point means anything.

The method: J. J. Moré and S. M. Wild, "Estimating computational noise", SIAM J. Sci.
Comput. 33(3):1292-1314, 2011. The loss at m + 1 = 9 equally spaced points x + k delta
(k = -4..4); the k-th differences of a smooth function shrink like delta^k, those of noise do
not. The noise level is sigma_k = sqrt(gamma_k mean((Delta^k f)^2)), gamma_k = (k!)^2 / (2k)!,
at the first order k whose differences change sign and where sigma_k, sigma_k+1, sigma_k+2
agree within a factor of 4. Half the first differences zero: delta too small (x100); no such
k: delta too large (/100); three spacings at most, starting near central differences' own
step (`SPACINGS`: three of them, the largest level found counts).
A jump inside the points reads as noise of about its size, which is what it is to a finite
difference. An entry whose points straddle a kink is not measured (NaN): its loss is not
smooth there for another reason, reported as such.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from refbp.loss_forms import LossForms

from .evaluate import Evaluator
from .steps import RELATIVE_STEP, scale

POINTS = 9  # m + 1 equally spaced points, m = 8 (the paper recommends m >= 6)
AGREE = 4.0  # sigma_k, sigma_k+1, sigma_k+2 within this factor of each other
RESCALE = 100.0  # the paper's change of delta when it is too small or too large
TRIES = 3
# The first spacings, as multiples of central differences' step: three that are no simple
# ratio of each other (1/golden ratio, 1/plastic number, sqrt(2)), and none a short binary
# number. A loss rounded in steps (a saturated sigmoid's 1 - y moves in steps of 2^-53) is a
# staircase that is locally periodic along an entry: points spaced by about a multiple of its
# period all meet it at the same phase, and the sampled loss looks smooth with a wrong slope
# (seen on a relu RNN with a bce head at one spacing of three). The largest level found counts.
SPACINGS = (0.6180339887498949, 0.7548776662466927, 1.4142135623730951)
FOUND, TOO_SMALL, TOO_LARGE = 0, 1, 2


def noise_levels(values: NDArray[Any]) -> tuple[NDArray[Any], NDArray[Any]]:
    """ECnoise on each row of `values` [E, POINTS] (the loss at equally spaced points):
    (noise level [E], NaN where none was found; status [E]: FOUND, TOO_SMALL or TOO_LARGE)."""
    count, points = values.shape
    table = np.asarray(values, dtype=np.float64)
    levels = np.empty((count, points - 1))
    changes = np.zeros((count, points - 1), dtype=bool)
    gamma = 1.0
    too_small = np.zeros(count, dtype=bool)
    with np.errstate(invalid="ignore", over="ignore"):
        for k in range(1, points):
            table = np.diff(table, axis=1)
            if k == 1:
                too_small = np.sum(table == 0, axis=1) >= points / 2
            gamma *= 0.5 * k / (2 * k - 1)
            levels[:, k - 1] = np.sqrt(gamma * np.mean(table * table, axis=1))
            changes[:, k - 1] = (np.min(table, axis=1) < 0) & (np.max(table, axis=1) > 0)
        noise = np.full(count, np.nan)
        for k in range(points - 3):
            window = levels[:, k : k + 3]
            found = np.isnan(noise) & changes[:, k] & (np.max(window, axis=1) <= AGREE * np.min(window, axis=1))
            noise[found] = levels[found, k]
    finite = np.all(np.isfinite(values), axis=1)
    noise[~finite] = np.nan
    status = np.where(~np.isnan(noise), FOUND, np.where(too_small & finite, TOO_SMALL, TOO_LARGE))
    return noise, status


class LossNoise:
    """The noise of `forms.loss` along single entries of `params`, entry by entry on request
    (one Evaluator for every request: the batched form is set up and checked once)."""

    def __init__(self, forms: LossForms, params: dict[str, NDArray[Any]]) -> None:
        self.params = params
        self.evaluator = Evaluator(forms.loss, params, forms.probe, forms.perturbed)

    @property
    def evaluations(self) -> int:
        return self.evaluator.evaluations

    def along(self, name: str, indices: Any) -> NDArray[Any]:
        """The largest noise level found at any of the `SPACINGS` (NaN where none was found, or
        where the points straddle a kink), per entry of `indices` (flat) of tensor `name`."""
        indices = np.asarray(indices, dtype=np.int64)
        levels = [self._at_spacing(name, indices, factor) for factor in SPACINGS]
        with np.errstate(invalid="ignore"):
            return np.fmax.reduce(levels) if len(levels) > 1 else levels[0]

    def _at_spacing(self, name: str, indices: NDArray[Any], factor: float) -> NDArray[Any]:
        flat = np.asarray(self.params[name], dtype=np.float64).reshape(-1)
        offsets = np.arange(POINTS) - POINTS // 2
        moved = offsets != 0
        delta = RELATIVE_STEP["central"] * factor * scale(flat[indices])
        noise = np.full(indices.size, np.nan)
        pending = np.arange(indices.size)
        for _ in range(TRIES):
            if not pending.size:
                break
            values = np.full((pending.size, POINTS), self.evaluator.base_loss)
            values[:, moved], kinks = self.evaluator.losses(
                name, indices[pending], delta[pending, None] * offsets[moved][None, :]
            )
            level, status = noise_levels(values)
            at_kink = np.isin(indices[pending], list(kinks))
            noise[pending] = np.where(at_kink, np.nan, level)
            delta[pending] = np.where(status == TOO_SMALL, delta[pending] * RESCALE, delta[pending] / RESCALE)
            pending = pending[~at_kink & (status != FOUND)]
        return noise
