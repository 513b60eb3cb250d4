"""Whether a batched form's losses may be trusted for one tensor: they are compared with the
plain `loss` at sampled points before any of them is used (refbp.oracle.fd.evaluate).

What is sampled, and why:
  - every non-finite batched value is a disagreement by itself (NaN compares as neither
    near nor far: a NaN must never pass as agreeing);
  - one point in every chunk the form computed on its own: a form chooses its path (a power
    series or the direct product, one gathered product or one per run of networks) chunk by
    chunk, so a bug confined to one chunk's path shows only in that chunk. Past MAX_CHUNKS
    chunks, MAX_CHUNKS evenly spaced ones and every chunk where the form says its path
    changed (`chunk_paths`): every path is sampled, but a bug confined to one unsampled
    chunk of a path that sampled chunks share can escape (tests/test_perturbed*.py compare
    every path with the plain forward at every point);
  - a point inside the first range the form reports for each path (a form may redo a few
    networks of a chunk by another path, e.g. those near a kink: their ranges are single
    networks inside the chunk's);
  - within a chunk, a point whose batched loss moved away from the base loss where there is
    one: a point that moves the loss by 0 ulp agrees whatever the form's bug;
  - the middle entry at the stencil's second point (-h, so that a sign slip shows) and the
    last entry at its first (+h).

The tolerance is what the derivative needs, not a share of the loss alone. A difference e
between the batched and the plain value of a point moved by h becomes an error e / h in the
derivative, whose size is |L(x + h) - L(x)| / h: so e may be at most CHANGE_SHARE of the
loss's change (a series coefficient off by 1e-6 relative is off by about 1e-6 of the change,
and fails), or AGREEMENT_ULPS of max(|L|, 1), the rounding that any two orders of
additions leave (where the change is below rounding, nothing finer can be asked). For the
complex step the imaginary part carries the derivative: its tolerance is AGREEMENT_ULPS of
|Im L| + |delta| max(|L|, 1) (the step times the loss's scale, the floor of the complex
step's own error estimate).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .steps import EPS

# The batched forms and the plain loss add in other orders: a few ulps of max(|L|, 1) apart
# on clean forms (tests/test_fd_agreement.py measures it on every activation and loss).
AGREEMENT_ULPS = 16
# The share of a point's change of the loss that a batched value may be off by: large weights
# make a loss whose rounding is many ulps of the loss (the rounding of large nets times the
# loss's sensitivity to them), and two orders of additions then differ by more than
# AGREEMENT_ULPS; it stays far below any error that matters to the derivative.
CHANGE_SHARE = 1e-8
# Chunks sampled per tensor at most (plus every change of path the form reports): each sample
# is one plain loss, about as costly as a few hundred perturbed networks of the batched form;
# every chunk of a 32-64-64-10 tensor (up to 32) made the whole central check 1.4x slower.
MAX_CHUNKS = 8


def agrees(plain: Any, batched: Any, base_loss: float, delta: Any) -> bool:
    """The batched value of one point is the plain one to rounding (never for a non-finite value)."""
    scale = max(abs(float(np.real(base_loss))), 1.0)
    change = abs(np.real(plain) - np.real(base_loss))
    real_ok = abs(np.real(plain) - np.real(batched)) <= max(AGREEMENT_ULPS * EPS * scale, CHANGE_SHARE * change)
    imag_tolerance = AGREEMENT_ULPS * EPS * (abs(np.imag(plain)) + abs(delta) * scale)
    imag_ok = abs(np.imag(plain) - np.imag(batched)) <= imag_tolerance
    return bool(real_ok and imag_ok and np.isfinite(plain) and np.isfinite(batched))


def sampled_points(
    values: NDArray[Any], base_loss: float, chunk: int, points: int, chunk_paths: Iterable[tuple[int, int, Any]] = ()
) -> list[int]:
    """Positions in the flat batched `values` (entry-major, `points` stencil points per entry)
    where the batched form is compared with the plain loss (see the module docstring)."""
    size = values.size
    if size == 0:
        return []
    entries = size // points
    picks = {(entries // 2) * points + min(1, points - 1), (entries - 1) * points}
    starts = list(range(0, size, max(chunk, 1)))
    if len(starts) > MAX_CHUNKS:
        spaced = np.linspace(0, len(starts) - 1, MAX_CHUNKS).round().astype(int)
        starts = sorted({starts[i] for i in spaced} | _path_changes(chunk_paths))
    moved = np.real(values) != np.real(base_loss)
    ranges = [(start, min(start + max(chunk, 1), size)) for start in starts]
    ranges += [
        (start, stop)
        for start, stop in _first_range_of_each_path(chunk_paths)
        if start < size and (start, min(stop, size)) not in ranges
    ]
    for k, (start, stop) in enumerate(ranges):
        candidates = np.flatnonzero(moved[start:stop])
        if candidates.size == 0:
            candidates = np.arange(stop - start)
        # A different place in each chunk (a prime stride): not always the chunk's first network.
        picks.add(start + int(candidates[(k * 7919 + len(candidates) // 2) % len(candidates)]))
    return sorted(picks)


def _first_range_of_each_path(chunk_paths: Iterable[tuple[int, int, Any]]) -> list[tuple[int, int]]:
    """(first, end) of the first range the form reports for each of its paths."""
    first: dict[Any, tuple[int, int]] = {}
    for start, stop, path in chunk_paths:
        first.setdefault(path, (int(start), int(stop)))
    return list(first.values())


def _path_changes(chunk_paths: Iterable[tuple[int, int, Any]]) -> set[int]:
    """The first position of every chunk whose path differs from the chunk before it."""
    changes: set[int] = set()
    previous = None
    for start, _stop, path in chunk_paths:
        if path != previous:
            changes.add(int(start))
        previous = path
    return changes
