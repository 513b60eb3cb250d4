"""What the benchmarks share: the backend options, backend selection, and what a timing depends on."""

from __future__ import annotations

from dataclasses import dataclass

from refbp.report.environment import environment

from .measure import cuda_available


class BenchUsageError(ValueError):
    """Bad options (an unknown backend, cuda without CUDA): one line on stderr, exit 2."""


@dataclass(frozen=True)
class BackendOptions:
    """Which backends to time, and how hard."""

    device: str = "all"  # "cpu", "cuda" or "all" (cuda backends only where CUDA is available)
    backends: tuple[str, ...] = ()  # names from the bench's BACKENDS; empty: every backend of `device`
    quick: bool = False  # a few small sizes and short medians (a smoke run)


def device_of(backend: str) -> str:
    """Where a backend computes: its name ends in -cuda or -cpu (refbp-numpy: the CPU)."""
    return "cuda" if backend.endswith("-cuda") else "cpu"


def select_backends(options: BackendOptions, registry: tuple[str, ...]) -> list[str]:
    """The backends to time, in the order of the bench's `registry` of backend names."""
    chosen = list(options.backends)
    unknown = [b for b in chosen if b not in registry]
    if unknown:
        raise BenchUsageError(f"--backends: unknown backend {', '.join(unknown)} (known: {', '.join(registry)})")
    if not chosen:
        chosen = [b for b in registry if options.device in ("all", device_of(b))]
    if not cuda_available():
        if options.device == "cuda" or any(device_of(b) == "cuda" for b in options.backends):
            raise BenchUsageError("CUDA is not available on this machine (torch.cuda.is_available() is false)")
        chosen = [b for b in chosen if device_of(b) != "cuda"]
    return [b for b in registry if b in chosen]


def timing_environment(extra: dict | None = None) -> dict:
    """environment.json of a benchmark: versions, threads (BLAS variables, torch's), the CUDA device."""
    # torch takes seconds to import: only when a bench has run, not when the CLI starts.
    import torch

    cuda = torch.cuda.is_available()
    return environment(
        {
            "torch_threads": torch.get_num_threads(),
            "cuda_available": cuda,
            "cuda_device": torch.cuda.get_device_name(0) if cuda else None,
            "timing": "median of several samples per row; CUDA synchronised before the clock is read",
            **(extra or {}),
        }
    )
