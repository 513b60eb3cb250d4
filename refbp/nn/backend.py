"""Which array namespace to compute with: numpy itself for numpy arrays (no wrapper
overhead on the hot path), array-api-compat's namespace for anything else (torch tensors);
and the process-wide settings that numpy's speed depends on (BLAS threads, freed memory)."""

from __future__ import annotations

import contextlib
import ctypes

import array_api_compat
import numpy as np

try:
    import threadpoolctl
except ImportError:  # optional: without it the recurrence only runs slower on several cores
    threadpoolctl = None


def namespace(*arrays):
    if all(isinstance(a, np.ndarray) or np.isscalar(a) for a in arrays):
        return np
    return array_api_compat.array_namespace(*arrays)


def to_numpy(array) -> np.ndarray:
    """Any backend's array -> numpy float64 (for traces and comparisons)."""
    if isinstance(array, np.ndarray):
        return array.astype(np.float64, copy=False)
    if hasattr(array, "detach"):  # a torch tensor, without importing torch here
        return array.detach().cpu().double().numpy()
    return np.asarray(array, dtype=np.float64)


_CONTROLLER = None


def serial_blas(xp):
    """A context in which numpy's BLAS runs on one thread (a no-op off numpy or without
    threadpoolctl). For a recurrence: its per-step products (batch x hidden x hidden) are too
    small to share between threads, and waking threads at every one of T serial steps costs
    more than the product itself."""
    global _CONTROLLER
    if xp is not np or threadpoolctl is None:
        return contextlib.nullcontext()
    if _CONTROLLER is None:
        _CONTROLLER = threadpoolctl.ThreadpoolController()
    return _CONTROLLER.limit(limits=1, user_api="blas")


# glibc's mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD_MAX = 32 * 2**20  # glibc refuses more on 64-bit systems
_KEPT_BYTES = 256 * 2**20


def keep_freed_memory() -> bool:
    """Let glibc's malloc keep freed memory for the next arrays instead of returning it to the
    system (True where that was set: glibc only). A training step allocates and frees the
    same arrays every time; by default glibc gives each one of a few hundred KB back at
    free() and the next step faults every page of it in again, which cost about 40% of a
    784-256-256-10 step (docs/performance.md, "bench batch"). Process-wide: refbp's command
    line calls it at start; a program using refbp.nn may call it too. Up to 256 MiB of
    freed memory is kept; arrays over 32 MiB are still mapped and unmapped one by one."""
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library this process runs on; glibc and musl have it
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX)) and bool(mallopt(_M_TRIM_THRESHOLD, _KEPT_BYTES))
