"""Work arrays of the perturbed networks' hot path, kept for the life of the thread.

A fresh array of a few hundred KiB is a fresh mapping from the allocator, and each of its
4 KiB pages faults on first touch: arrays kept from call to call (and from check to check)
fault once per process instead (docs/performance.md, "Finite differences").
"""

from __future__ import annotations

import itertools
import math
import threading

import numpy as np

_WORKSPACE = threading.local()
# Which PerturbedLosses last filled a tiled base (object ids are reused, tokens never).
TOKENS = itertools.count()


def work_array(role, shape: tuple, dtype) -> np.ndarray:
    """A work array of `shape` for `role`: the same memory in every call from this thread
    (grown when too small)."""
    buffers = _WORKSPACE.__dict__.setdefault("buffers", {})
    size = math.prod(shape)
    key = (role, np.dtype(dtype))
    buffer = buffers.get(key)
    if buffer is None or buffer.size < size:
        buffer = buffers[key] = np.empty(size, dtype=dtype)
    return buffer[:size].reshape(shape)


def filled_by() -> dict:
    """{work array role: (token, count)}: what a tiled work array holds now, in this thread."""
    return _WORKSPACE.__dict__.setdefault("filled", {})


def gathered(role, rows, indices, dtype) -> np.ndarray:
    """rows[indices] in a work array of `dtype`."""
    out = work_array(role, (len(indices),) + rows.shape[1:], dtype)
    if out.dtype == rows.dtype:
        np.take(rows, indices, axis=0, out=out, mode="clip")  # indices are in range; clip skips a buffer
    else:
        out[...] = rows[indices]
    return out


def stacked_view(unit_major, batch: int):
    """[n, S*B] unit-major -> the [S, B, n] view the losses and kink probes take."""
    units, columns = unit_major.shape
    return unit_major.reshape(units, columns // batch, batch).transpose(1, 2, 0)
