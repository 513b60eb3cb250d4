"""Where refbp's hand-written code computes: numpy arrays, or torch tensors on a device.

refbp.nn never imports torch: it computes on whatever arrays it is handed, through the
Array-API namespace of those arrays. This module (outside the implementation under test)
makes those arrays and, for timings on CUDA, waits for queued kernels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class DeviceError(ValueError):
    """A device that cannot be used here (`cuda` without CUDA)."""


def resolve_device(name: str) -> str:
    """`cpu`, `cuda` or `auto` (cuda when available, else cpu) -> the torch device to run refbp on."""
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise DeviceError("--device cuda: CUDA is not available on this machine (torch.cuda.is_available() is false)")
    if name not in ("cpu", "cuda"):
        raise DeviceError(f"--device: unknown device {name!r} (known: cpu, cuda, auto)")
    return name


@dataclass(frozen=True)
class TorchPlacement:
    """refbp on torch tensors of `device` (the duck type refbp.nn.compute_trace takes)."""

    device: str = "cpu"

    @property
    def name(self) -> str:
        return f"torch:{self.device}"

    def put(self, array: np.ndarray, dtype: str):
        import torch

        kind = torch.int64 if array.dtype.kind == "i" else getattr(torch, dtype)
        return torch.as_tensor(array, dtype=kind, device=self.device)

    def synchronize(self) -> None:
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.synchronize()
