"""Which array namespace to compute with: numpy itself for numpy arrays (no wrapper
overhead on the hot path), array-api-compat's namespace for anything else (torch tensors)."""

from __future__ import annotations

import numpy as np


def namespace(*arrays):
    if all(isinstance(a, np.ndarray) or np.isscalar(a) for a in arrays):
        return np
    import array_api_compat  # only needed off numpy

    return array_api_compat.array_namespace(*arrays)


def to_numpy(array) -> np.ndarray:
    """Any backend's array -> numpy float64 (for traces and comparisons)."""
    if isinstance(array, np.ndarray):
        return array.astype(np.float64, copy=False)
    if hasattr(array, "detach"):  # a torch tensor, without importing torch here
        return array.detach().cpu().double().numpy()
    return np.asarray(array, dtype=np.float64)


class DeviceError(ValueError):
    """A device that cannot be used here (`cuda` without CUDA)."""


def resolve_device(name: str) -> str:
    """`cpu`, `cuda` or `auto` (cuda when available, else cpu) -> the torch device to run refbp on."""
    import torch  # only when a device is asked for: refbp.nn never needs torch to import

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise DeviceError("--device cuda: CUDA is not available on this machine (torch.cuda.is_available() is false)")
    if name not in ("cpu", "cuda"):
        raise DeviceError(f"--device: unknown device {name!r} (known: cpu, cuda, auto)")
    return name
