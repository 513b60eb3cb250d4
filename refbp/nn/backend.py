"""Which array namespace to compute with: numpy itself for numpy arrays (no wrapper
overhead on the hot path), array-api-compat's namespace for anything else (torch tensors)."""

from __future__ import annotations

import contextlib
from typing import Any

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


def serial_blas(xp: Any) -> contextlib.AbstractContextManager[Any]:
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
