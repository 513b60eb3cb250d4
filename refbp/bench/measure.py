"""Timing for the benchmarks: medians of several samples, CUDA synchronised, and the GEMM rate.

Every number a benchmark reports comes from `interleaved_medians`: one warm-up call, an inner
loop long enough that the clock's resolution does not matter, then the median over
`samples` samples (the median, because other processes share the machine); a sample of a
`steady` call (one users run in a loop) that follows a pause between two libraries
(`settle`) starts after one more untimed call. On CUDA
the clock is read only after `torch.cuda.synchronize()`, so queued kernels are counted.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Effort:
    """How hard to measure: samples per median, the shortest sample, a budget per measurement."""

    samples: int = 7
    min_sample_s: float = 0.02
    max_measure_s: float = 3.0
    # After one library's calls the next library waits this long (see `settle`).
    pause_s: float = 0.12

    @staticmethod
    def of(quick: bool) -> Effort:
        return Effort(samples=3, min_sample_s=0.002, max_measure_s=0.5, pause_s=0.02) if quick else Effort()


@dataclass
class Timed:
    """One thing to time: `fn` (synchronised by `sync`), optionally warmed by a cheaper `warmup`
    whose time times `scale` estimates one `fn()` call (a long serial loop is not run just to warm it)."""

    fn: Callable[[], object]
    sync: Callable[[], object] | None = None
    warmup: Callable[[], object] | None = None
    scale: float = 1.0
    library: str = "torch"  # whose threads run it: "numpy" (OpenBLAS) or "torch" (OpenMP, CUDA)
    # What users run is a loop of such calls (a training step, a product): a sample after a
    # pause between libraries starts after one untimed call. False (a check run once): the
    # first call after the pause is timed too, as a user's single call would be.
    steady: bool = False


def _plan(timed: Timed, effort: Effort):
    """Warm `timed` up and choose its inner loop count: (fn, sync, number, estimated seconds per call)."""
    sync = timed.sync or (lambda: None)
    warm = timed.warmup or timed.fn
    warm()
    sync()  # first call: allocations, lazy initialisation, CUDA context and kernels
    start = time.perf_counter()
    warm()
    sync()
    one = max((time.perf_counter() - start) * (timed.scale if timed.warmup else 1.0), 1e-7)
    return timed.fn, sync, max(1, int(effort.min_sample_s / one)), one


def interleaved_medians(timed: dict, effort: Effort = Effort()) -> dict:
    """Median seconds of one call of each `timed[name]`, sampled in rounds, one sample of every
    name per round: a burst of load from other processes then hits every name alike, and the
    ratios between names stay fair. Each sample loops `number` calls (at least `min_sample_s`)."""
    plans, previous = {}, None
    for name, t in timed.items():
        previous = settle(previous, t.library, effort)
        plans[name] = _plan(t, effort)
    slowest = sum(number * one for _, _, number, one in plans.values())
    # Fewer rounds when a round is long (never under 3, unless fewer samples are asked for), to stay in the budget.
    rounds = max(min(3, effort.samples), min(effort.samples, int(effort.max_measure_s / slowest)))
    times: dict = {name: [] for name in plans}
    for _ in range(rounds):
        for name, (fn, sync, number, _) in plans.items():
            if settle(previous, timed[name].library, effort) != previous and timed[name].steady and number > 1:
                # After the pause one untimed call wakes the library's threads and warms the
                # caches: a sample of short calls then times the steady state that a loop of
                # them runs in, not the wake-up (calls long enough to fill a sample alone skip it).
                fn()
                sync()
            previous = timed[name].library
            start = time.perf_counter()
            for _ in range(number):
                fn()
            sync()
            times[name].append((time.perf_counter() - start) / number)
    settle(previous, None, effort)
    return {name: statistics.median(samples) for name, samples in times.items()}


def settle(previous: str | None, following: str | None, effort: Effort) -> str | None:
    """Pause when one library's calls are followed by another's: their worker threads keep
    spinning for a while after a call and take the cores from the next library's (what this
    costs: docs/performance.md, "Timing")."""
    if previous is not None and previous != following:
        time.sleep(effort.pause_s)
    return following


def synchronizer(device: str):
    if device.startswith("cuda"):
        import torch

        return torch.cuda.synchronize
    return lambda: None


def cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def gemm_flops(n: int) -> float:
    return 2.0 * n**3


def gemm_timed(library: str, dtype: str, device: str = "cpu", n: int = 1024) -> Timed:
    """One n x n x n matrix product of `library` ("numpy" or "torch") into a preallocated output,
    to be timed beside other calls (`interleaved_medians`): the GEMM rate under the same load."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    if library == "numpy":
        out = np.empty((n, n), dtype=dtype)

        def fn():
            np.matmul(a, b, out=out)

        return Timed(fn, library="numpy", steady=True)
    if library == "torch":
        import torch

        ta, tb = torch.as_tensor(a, device=device), torch.as_tensor(b, device=device)
        product = torch.empty((n, n), dtype=ta.dtype, device=device)

        def fn():
            torch.matmul(ta, tb, out=product)

        return Timed(fn, synchronizer(device), steady=True)
    raise ValueError(f"unknown library {library!r}")
