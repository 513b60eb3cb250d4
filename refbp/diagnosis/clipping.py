"""Gradient clipping, recognised in closed form: the answer is the reference clipped entry by entry
at +-c, or scaled down so that its norm (the whole gradient's, or each tensor's) is c. The bound c
is whatever the answer shows (min-char-rnn clips at 5, clip_grad_norm_ often at 1), so clipping
is found from the answer, not from a list of bugged references. For `params_after` the step
taken (after minus before) is what was clipped (one SGD step: -lr clip(g))."""

from __future__ import annotations

import numpy as np

from .signatures import within

ID = "gradient-clipping"


def clipped(actual, reference, atol: float, rtol: float, whole=None) -> tuple[str, str] | None:
    """(id, note) when `actual` is `reference` clipped; `whole`: {tensor: (answer, reference)} of
    every tensor of the same quantity, for clipping by the norm of the whole gradient."""
    a, r = np.asarray(actual, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    if a.shape != r.shape or not np.all(np.isfinite(a)) or a.size == 0:
        return None
    bound = float(np.max(np.abs(a)))
    beyond = np.abs(r) > bound + atol + rtol * bound
    # At least two entries cut: one entry at the answer's largest magnitude is as much an indexing slip.
    if bound > 0 and int(beyond.sum()) >= 2 and within(a, np.clip(r, -bound, bound), atol, rtol):
        return ID, (
            f"clipped entry by entry at +-{bound:.6g}: {int(beyond.sum())} of {a.size} entries beyond it "
            f"were cut to it, the rest match (np.clip on the gradient)"
        )
    k = _ratio(a, r, atol, rtol)
    if k is None or not 0.0 < k < 1.0:
        return None
    if whole:
        ratios = [_ratio(*pair, atol, rtol) for pair in whole.values()]  # type: ignore[call-arg]  # pairs
        if len(whole) > 1 and all(x is not None and abs(x - k) <= 1e-6 * k for x in ratios):
            norm = float(np.sqrt(sum(np.sum(np.asarray(p[0], dtype=np.float64) ** 2) for p in whole.values())))
            return ID, (
                f"every tensor is {k:.6g} times the reference: the whole gradient scaled to norm {norm:.6g} "
                f"(clipped by its global norm, as clip_grad_norm_)"
            )
        norms = [
            float(np.linalg.norm(np.asarray(p[0], dtype=np.float64)))
            for p, x in zip(whole.values(), ratios)
            if x is not None and x < 1.0 - 1e-9
        ]
        if len(norms) > 1 and max(norms) - min(norms) <= 1e-6 * max(norms):
            return ID, (
                f"{k:.6g} times the reference, and every tensor scaled down has the norm {norms[0]:.6g}: "
                f"each tensor clipped to that norm"
            )
    return None


def _ratio(a, r, atol: float, rtol: float) -> float | None:
    """k with a = k r within tolerance (None when there is no such constant)."""
    a, r = np.asarray(a, dtype=np.float64), np.asarray(r, dtype=np.float64)
    if a.shape != r.shape or not np.any(r):
        return None
    k = float(np.sum(a * r) / np.sum(r * r))
    return k if np.isfinite(k) and within(a, k * r, atol, rtol) else None
