"""`refbp bench batch`: what batching buys, for refbp and for torch autograd, on the CPU and CUDA.

One forward + backward of an MLP (relu hidden layers, logits, cross-entropy on class
indices) over a batch, per backend:
  refbp-numpy          refbp.nn on numpy arrays
  refbp-torch-cpu      the same code on torch CPU tensors (Array-API namespace, no autograd)
  torch-autograd-cpu   the torch reference's network (refbp.oracle.torch_modules: torch.nn.Linear, ReLU),
                       torch.nn's cross-entropy, torch.autograd.grad
  refbp-torch-cuda, torch-autograd-cuda   the same on CUDA (only when it is available)
"batched" rows time one call on the whole batch; "serial" rows time a loop of batch-size-1
calls over the same examples. The GEMM rate of each backend's library is timed in the same
rounds as the batched steps, so GFLOP/s can be read as a fraction of what the machine's
matrix product does under the same load.
"""

from __future__ import annotations

import itertools
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from refbp.cases.generate import random_problem
from refbp.cases.model import MLPNetwork

from .backends import BATCH_BACKENDS
from .common import BackendOptions, device_of, select_backends, timing_environment
from .measure import Effort, Timed, gemm_flops, gemm_timed, interleaved_medians, synchronizer
from .steps import backend_step

if TYPE_CHECKING:
    import pandas as pd

BACKENDS = BATCH_BACKENDS
GEMM_LIBRARY = {"refbp-numpy": "numpy"}  # every other backend multiplies with torch on its device
MODELS = (((784, 256, 256, 10), "float64"), ((784, 256, 256, 10), "float32"), ((64, 64, 64, 10), "float64"))
BATCHES = (1, 8, 64, 256, 1024, 4096)
QUICK_BATCHES = (1, 8, 64)
GOAL_MODEL, GOAL_BATCH, GOAL_CUDA_BATCH = "mlp-784-256-256-10", 256, 4096
TITLE = "refbp bench batch: one forward+backward (seconds are medians)"


@dataclass(frozen=True)
class Options(BackendOptions):
    batches: tuple[int, ...] = ()  # empty: BATCHES (QUICK_BATCHES with quick)
    serial: bool = True  # also time a loop of batch-1 calls over the same examples


# ---- the problems --------------------------------------------------------------------
def model_name(sizes) -> str:
    return "mlp-" + "-".join(str(n) for n in sizes)


def network(sizes) -> MLPNetwork:
    """relu hidden layers and logits (cross-entropy on class indices follows)."""
    return MLPNetwork(sizes=tuple(sizes), activations=("relu",) * (len(sizes) - 2) + ("identity",))


def problem(sizes, dtype: str, batch: int, seed: int = 0):
    """Xavier-uniform weights, normal inputs, class targets (refbp.cases.generate): numpy arrays in `dtype`."""
    params, inputs, targets = random_problem(
        network(sizes).param_shapes(), (batch, sizes[0]), (batch,), targets="classes", classes=sizes[-1], seed=seed
    )
    return {k: v.astype(dtype) for k, v in params.items()}, inputs.astype(dtype), targets


def mlp_flops(sizes, batch: int) -> float:
    """Matrix-product flops of forward + backward: net, dL/dW, and dL/dx for every layer but the first."""
    return float(
        sum(
            2.0 * batch * n_in * n_out * (2 if i == 0 else 3)
            for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes))
        )
    )


# ---- the measurement -------------------------------------------------------------------
def gemm_sizes(backends, dtype: str, quick: bool) -> dict:
    """(library, device, dtype) -> n of the n x n GEMM whose rate the backends' rows are read against."""
    sizes = {}
    for backend in backends:
        library, device = GEMM_LIBRARY.get(backend, "torch"), device_of(backend)
        sizes[(library, device, dtype)] = (1024 if quick else 4096) if device == "cuda" else (256 if quick else 1024)
    return sizes


def run(options: Options) -> pd.DataFrame:
    """Every row; per model and batch size, the backends and their libraries' GEMMs are sampled in
    turns (`interleaved_medians`), so a row's % of the GEMM rate compares times taken under one load."""
    # pandas takes ~0.3 s to import: only when a bench runs, not when the CLI starts.
    import pandas as pd

    backends = select_backends(options, BACKENDS)
    batches = options.batches or (QUICK_BATCHES if options.quick else BATCHES)
    effort = Effort.of(options.quick)
    rows = []
    for sizes, dtype in MODELS:
        print(f"  timing {model_name(sizes)} {dtype}: {', '.join(backends)} ...", file=sys.stderr, flush=True)
        params, inputs, targets = problem(sizes, dtype, max(batches))
        prepared = {b: backend_step(b, network(sizes), "cross_entropy", params, inputs, targets) for b in backends}
        gemm_n = gemm_sizes(backends, dtype, options.quick)
        gemms = {(lib, dev, dt): gemm_timed(lib, dt, dev, n=n) for (lib, dev, dt), n in gemm_n.items()}
        for batch in batches:
            batched = interleaved_medians({b: _batched(b, p, batch) for b, p in prepared.items()} | gemms, effort)
            looped = (
                interleaved_medians({b: _serial(b, p, batch) for b, p in prepared.items()}, effort)
                if options.serial
                else {}
            )
            for backend in backends:
                device = device_of(backend)
                key = (GEMM_LIBRARY.get(backend, "torch"), device, dtype)
                peak = gemm_flops(gemm_n[key]) / batched[key] / 1e9
                rows.append(_row(sizes, dtype, batch, backend, "batched", device, batched[backend], peak))
                if backend in looped:
                    rows[-1]["speedup_over_serial"] = looped[backend] / batched[backend]
                    rows.append(_row(sizes, dtype, batch, backend, "serial", device, looped[backend], peak))
    frame = pd.DataFrame(rows)
    rank = {
        "_model": frame["model"] + " " + frame["dtype"],
        "_backend": frame["backend"].map(BACKENDS.index),
        "_mode": frame["mode"].map(("batched", "serial").index),
    }
    rank["_model"] = rank["_model"].map([f"{model_name(m)} {d}" for m, d in MODELS].index)
    return (
        frame.assign(**rank)
        .sort_values(["_model", "_backend", "_mode", "batch"], kind="stable")
        .drop(columns=list(rank))
        .reset_index(drop=True)
    )


def environment(options: Options) -> dict:
    """environment.json of this bench: with CUDA, whether torch lets float32 matmuls use TF32."""
    # torch takes seconds to import: only when a bench has run, not when the CLI starts.
    import torch

    extra = {"cuda_matmul_allow_tf32": bool(torch.backends.cuda.matmul.allow_tf32)} if torch.cuda.is_available() else {}
    return timing_environment(extra)


def _batched(backend: str, prepared, batch: int) -> Timed:
    step, inputs, targets = prepared
    x, t = inputs[:batch], targets[:batch]
    return Timed(
        lambda: step(x, t), synchronizer(device_of(backend)), library=GEMM_LIBRARY.get(backend, "torch"), steady=True
    )  # a training step: run in a loop


def _serial(backend: str, prepared, batch: int, warm: int = 16) -> Timed:
    """A loop of batch-1 calls over the batch's examples; warmed (and estimated) on its first `warm`."""
    step, inputs, targets = prepared
    singles = [(inputs[i : i + 1], targets[i : i + 1]) for i in range(batch)]

    def loop(pairs=singles):
        for xi, ti in pairs:
            step(xi, ti)

    head = singles[:warm]
    return Timed(
        loop,
        synchronizer(device_of(backend)),
        warmup=lambda: loop(head),
        scale=batch / len(head),
        library=GEMM_LIBRARY.get(backend, "torch"),
    )


def _row(sizes, dtype, batch, backend, mode, device, seconds, peak) -> dict:
    gflops = mlp_flops(sizes, batch) / seconds / 1e9
    return {
        "model": model_name(sizes),
        "dtype": dtype,
        "batch": batch,
        "backend": backend,
        "mode": mode,
        "device": device,
        "seconds": seconds,
        "seconds_per_example": seconds / batch,
        "examples_per_s": batch / seconds,
        "gflops": gflops,
        "gemm_peak_gflops": peak,
        "pct_of_gemm": 100.0 * gflops / peak,
        "speedup_over_serial": float("nan"),
    }


# ---- goals ---------------------------------------------------------------------------------
def _pick(frame, model, dtype, batch, backend, mode="batched"):
    hit = frame[
        (frame["model"] == model)
        & (frame["dtype"] == dtype)
        & (frame["batch"] == batch)
        & (frame["backend"] == backend)
        & (frame["mode"] == mode)
    ]
    return None if hit.empty else hit.iloc[0]


def goal_lines(frame: pd.DataFrame) -> list[str]:
    """The issue's goals, as measured in this run (a goal whose rows were not timed is left out)."""
    lines = []
    mine = _pick(frame, GOAL_MODEL, "float64", GOAL_BATCH, "refbp-numpy")
    torch_cpu = _pick(frame, GOAL_MODEL, "float64", GOAL_BATCH, "torch-autograd-cpu")
    if mine is not None and torch_cpu is not None:
        ratio = mine["seconds"] / torch_cpu["seconds"]
        lines.append(
            f"goal: {GOAL_MODEL} float64 batch {GOAL_BATCH}: refbp-numpy / torch-autograd-cpu = "
            f"{ratio:.2f}x (goal <= 1.0x: {'met' if ratio <= 1.0 else 'not met'})"
        )
    if mine is not None:
        pct = mine["pct_of_gemm"]
        lines.append(
            f"goal: {GOAL_MODEL} float64 batch {GOAL_BATCH}: refbp-numpy {mine['gflops']:.1f} GFLOP/s = "
            f"{pct:.0f}% of numpy's float64 GEMM rate {mine['gemm_peak_gflops']:.1f} GFLOP/s "
            f"(goal >= 75%: {'met' if pct >= 75 else 'not met'})"
        )
    for dtype in ("float64", "float32"):
        cuda = _pick(frame, GOAL_MODEL, dtype, GOAL_CUDA_BATCH, "refbp-torch-cuda")
        torch_cuda = _pick(frame, GOAL_MODEL, dtype, GOAL_CUDA_BATCH, "torch-autograd-cuda")
        if cuda is not None and torch_cuda is not None:
            ratio = cuda["seconds"] / torch_cuda["seconds"]
            lines.append(
                f"goal: {GOAL_MODEL} {dtype} batch {GOAL_CUDA_BATCH}: refbp-torch-cuda / torch-autograd-cuda"
                f" = {ratio:.2f}x (goal <= 1.2x: {'met' if ratio <= 1.2 else 'not met'})"
            )
    return lines
