"""`refbp bench batch`: what batching buys, for refbp and for torch autograd, on the CPU and CUDA.

One forward + backward of an MLP (relu hidden layers, logits, cross-entropy on class
indices) over a batch, per backend:
  refbp-numpy          refbp.nn on numpy arrays
  refbp-torch-cpu      the same code on torch CPU tensors (Array-API namespace, no autograd)
  torch-autograd-cpu   torch.nn.Linear/ReLU + F.cross_entropy + torch.autograd.grad
  refbp-torch-cuda, torch-autograd-cuda   the same on CUDA (only when it is available)
"batched" rows time one call on the whole batch; "serial" rows time a loop of batch-size-1
calls over the same examples. The GEMM rate of each backend's library is measured in the
same run, so GFLOP/s can be read as a fraction of what the machine's matrix product does.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

from .measure import Effort, Timed, environment, gemm_gflops, interleaved_medians, synchronizer
from .output import (BACKEND_COLORS, BenchUsageError, add_common_arguments, emit, fail_usage, figure, save_figure,
                     select_backends, write_report)

HELP = """\
Time one forward+backward of an MLP per batch size and backend (and a serial loop of batch-1 calls).

Models: MLP 784-256-256-10 (float64 and float32) and 64-64-64-10 (float64); batch sizes 1, 8,
64, 256, 1024, 4096; backends refbp-numpy, refbp-torch-cpu, torch-autograd-cpu, and with CUDA
refbp-torch-cuda, torch-autograd-cuda (synchronised). Each time is the median of several runs;
per batch size the backends are sampled in turns, so load from other processes hits them alike.
The float64/float32 GEMM rate (n x n matrix product) of numpy and torch is measured in the
same run: `gflops` of a row is its model's matrix-product flops over its time, beside the
`gemm_peak_gflops` of its backend's library and device.

Writes reports/bench-batch-<id>/ (results.csv, summary.md, report.html, environment.json and
PNG plots: time per example, speed-up over serial, GFLOP/s against the GEMM rate).

Threads: numpy (OpenBLAS) and torch (OpenMP) use every core by default; on a machine shared
with other work their thread barriers stall and the times scatter by several x. Compare them
single-threaded there: OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 refbp bench batch (environment.json
records these variables and torch's thread count).
"""

BACKENDS = {  # name -> device
    "refbp-numpy": "cpu",
    "refbp-torch-cpu": "cpu",
    "torch-autograd-cpu": "cpu",
    "refbp-torch-cuda": "cuda",
    "torch-autograd-cuda": "cuda",
}
GEMM_LIBRARY = {"refbp-numpy": "numpy"}  # every other backend multiplies with torch on its device
MODELS = (((784, 256, 256, 10), "float64"), ((784, 256, 256, 10), "float32"), ((64, 64, 64, 10), "float64"))
BATCHES = (1, 8, 64, 256, 1024, 4096)
QUICK_BATCHES = (1, 8, 64)
GOAL_MODEL, GOAL_BATCH, GOAL_CUDA_BATCH = "mlp-784-256-256-10", 256, 4096


def add_arguments(parser) -> None:
    add_common_arguments(parser, BACKENDS)
    parser.add_argument("--batches", metavar="LIST", help="comma-separated batch sizes (default: 1,8,64,256,1024,4096)")
    parser.add_argument("--no-serial", action="store_true", help="skip the serial (batch-1 loop) rows")


def main(args) -> int:
    try:
        backends = select_backends(args, BACKENDS)
        batches = _batches(args)
    except BenchUsageError as exc:
        return fail_usage(str(exc))
    effort = Effort.of(args.quick)
    frame = run(backends, batches, effort, serial=not args.no_serial, quick=args.quick)
    goals = goal_lines(frame)
    report = None
    if not args.no_report:
        report = write_report("batch", frame, report_sections(frame, goals), PLOTS, environment(_cuda_env()),
                              args.report_dir)
    emit(frame, args, "refbp bench batch: one forward+backward (seconds are medians)", report, goals)
    return 0


def _batches(args) -> tuple[int, ...]:
    if not args.batches:
        return QUICK_BATCHES if args.quick else BATCHES
    try:
        batches = tuple(int(b) for b in args.batches.split(",") if b.strip())
    except ValueError:
        raise BenchUsageError(f"--batches: not a list of integers: {args.batches!r}") from None
    if not batches or min(batches) < 1:
        raise BenchUsageError("--batches: sizes must be positive integers")
    return batches


# ---- the problems and the steps ------------------------------------------------------
def model_name(sizes) -> str:
    return "mlp-" + "-".join(str(n) for n in sizes)


def problem(sizes, dtype: str, batch: int, seed: int = 0):
    """torch.nn.Linear-like weights, normal inputs, class targets: numpy arrays."""
    rng = np.random.default_rng(seed)
    params = {}
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        bound = 1.0 / np.sqrt(fan_in)
        params[f"layers.{i}.weight"] = rng.uniform(-bound, bound, (fan_out, fan_in)).astype(dtype)
        params[f"layers.{i}.bias"] = rng.uniform(-bound, bound, (fan_out,)).astype(dtype)
    inputs = rng.standard_normal((batch, sizes[0])).astype(dtype)
    targets = rng.integers(0, sizes[-1], batch)
    return params, inputs, targets


def mlp_flops(sizes, batch: int) -> float:
    """Matrix-product flops of forward + backward: net, dL/dW, and dL/dx for every layer but the first."""
    return float(sum(2.0 * batch * n_in * n_out * (2 if i == 0 else 3)
                     for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]))))


def refbp_step(sizes, params):
    """`step(inputs, targets)`: refbp.nn's forward, loss, loss gradient and backward, on any namespace."""
    from cases.model import MLPNetwork
    from refbp.nn import losses
    from refbp.nn.backend import namespace
    from refbp.nn.mlp import MLP

    network = MLPNetwork(sizes=tuple(sizes), activations=("relu",) * (len(sizes) - 2) + ("identity",))
    model = MLP(network)
    loss = losses.get("cross_entropy")

    def step(inputs, targets):
        xp = namespace(inputs)
        cache = model.forward(xp, params, inputs)
        loss.value(xp, cache.outputs, targets)
        model.backward(xp, params, cache, loss.gradient(xp, cache.outputs, targets))

    return step


def torch_autograd_step(sizes, params, device: str):
    """`step(inputs, targets)`: torch.nn modules with the same weights (torch tensors), gradients by autograd."""
    import torch

    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        linear = torch.nn.Linear(n_in, n_out, dtype=params[f"layers.{i}.weight"].dtype, device=device)
        with torch.no_grad():
            linear.weight.copy_(params[f"layers.{i}.weight"])
            linear.bias.copy_(params[f"layers.{i}.bias"])
        layers.append(linear)
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    module = torch.nn.Sequential(*layers)
    weights = list(module.parameters())

    def step(inputs, targets):
        loss = torch.nn.functional.cross_entropy(module(inputs), targets)
        torch.autograd.grad(loss, weights)

    return step


def backend_step(backend: str, sizes, params_np, inputs_np, targets_np):
    """(step, params-converted inputs, targets, device) for one backend."""
    if backend == "refbp-numpy":
        return refbp_step(sizes, params_np), inputs_np, targets_np, "cpu"
    import torch

    device = BACKENDS[backend]

    def put(a):
        return torch.as_tensor(a, device=device)
    params = {k: put(v) for k, v in params_np.items()}

    if backend.startswith("refbp-"):
        step = refbp_step(sizes, params)
    else:
        step = torch_autograd_step(sizes, params, device)
    return step, put(inputs_np), put(targets_np), device


# ---- the measurement -------------------------------------------------------------------
def gemm_peaks(backends, dtypes, effort: Effort, quick: bool) -> dict:
    """(library, device, dtype) -> GFLOP/s, for every combination the backends use."""
    peaks = {}
    for backend in backends:
        library, device = GEMM_LIBRARY.get(backend, "torch"), BACKENDS[backend]
        for dtype in dtypes:
            key = (library, device, dtype)
            if key not in peaks:
                n = (1024 if quick else 4096) if device == "cuda" else (256 if quick else 1024)
                peaks[key] = gemm_gflops(library, dtype, device, n=n, effort=effort)
    return peaks


def run(backends, batches, effort: Effort, serial: bool = True, quick: bool = False) -> pd.DataFrame:
    """Every row; per model and batch size, the backends are sampled in turns (`interleaved_medians`)."""
    import pandas as pd

    peaks = gemm_peaks(backends, sorted({dtype for _, dtype in MODELS}), effort, quick)
    rows = []
    for sizes, dtype in MODELS:
        print(f"  timing {model_name(sizes)} {dtype}: {', '.join(backends)} ...", file=sys.stderr, flush=True)
        params_np, inputs_np, targets_np = problem(sizes, dtype, max(batches))
        prepared = {backend: backend_step(backend, sizes, params_np, inputs_np, targets_np) for backend in backends}
        for batch in batches:
            batched = interleaved_medians({b: _batched(b, p, batch) for b, p in prepared.items()}, effort)
            looped = interleaved_medians({b: _serial(b, p, batch) for b, p in prepared.items()}, effort) if serial else {}
            for backend, (_, _, _, device) in prepared.items():
                peak = peaks[(GEMM_LIBRARY.get(backend, "torch"), device, dtype)]
                rows.append(_row(sizes, dtype, batch, backend, "batched", device, batched[backend], peak))
                if backend in looped:
                    rows[-1]["speedup_over_serial"] = looped[backend] / batched[backend]
                    rows.append(_row(sizes, dtype, batch, backend, "serial", device, looped[backend], peak))
    frame = pd.DataFrame(rows)
    rank = {"_model": frame["model"] + " " + frame["dtype"], "_backend": frame["backend"].map(list(BACKENDS).index),
            "_mode": frame["mode"].map(("batched", "serial").index)}
    rank["_model"] = rank["_model"].map([f"{model_name(m)} {d}" for m, d in MODELS].index)
    return (frame.assign(**rank).sort_values(["_model", "_backend", "_mode", "batch"], kind="stable")
            .drop(columns=list(rank)).reset_index(drop=True))


def _batched(backend: str, prepared, batch: int) -> Timed:
    step, inputs, targets, device = prepared
    x, t = inputs[:batch], targets[:batch]
    return Timed(lambda: step(x, t), synchronizer(device), library=GEMM_LIBRARY.get(backend, "torch"))


def _serial(backend: str, prepared, batch: int, warm: int = 16) -> Timed:
    """A loop of batch-1 calls over the batch's examples; warmed (and estimated) on its first `warm`."""
    step, inputs, targets, device = prepared
    singles = [(inputs[i:i + 1], targets[i:i + 1]) for i in range(batch)]

    def loop(pairs=singles):
        for xi, ti in pairs:
            step(xi, ti)

    head = singles[:warm]
    return Timed(loop, synchronizer(device), warmup=lambda: loop(head), scale=batch / len(head),
                 library=GEMM_LIBRARY.get(backend, "torch"))


def _row(sizes, dtype, batch, backend, mode, device, seconds, peak) -> dict:
    gflops = mlp_flops(sizes, batch) / seconds / 1e9
    return {
        "model": model_name(sizes), "dtype": dtype, "batch": batch, "backend": backend, "mode": mode,
        "device": device, "seconds": seconds, "seconds_per_example": seconds / batch,
        "examples_per_s": batch / seconds, "gflops": gflops, "gemm_peak_gflops": peak,
        "pct_of_gemm": 100.0 * gflops / peak, "speedup_over_serial": float("nan"),
    }


def _cuda_env() -> dict:
    import torch

    if not torch.cuda.is_available():
        return {}
    return {"cuda_matmul_allow_tf32": bool(torch.backends.cuda.matmul.allow_tf32)}


# ---- goals, tables, plots ----------------------------------------------------------------
def _pick(frame, model, dtype, batch, backend, mode="batched"):
    hit = frame[(frame["model"] == model) & (frame["dtype"] == dtype) & (frame["batch"] == batch)
                & (frame["backend"] == backend) & (frame["mode"] == mode)]
    return None if hit.empty else hit.iloc[0]


def goal_lines(frame: pd.DataFrame) -> list[str]:
    """The issue's goals, as measured in this run (a goal whose rows were not timed is left out)."""
    lines = []
    mine = _pick(frame, GOAL_MODEL, "float64", GOAL_BATCH, "refbp-numpy")
    torch_cpu = _pick(frame, GOAL_MODEL, "float64", GOAL_BATCH, "torch-autograd-cpu")
    if mine is not None and torch_cpu is not None:
        ratio = mine["seconds"] / torch_cpu["seconds"]
        lines.append(f"goal: {GOAL_MODEL} float64 batch {GOAL_BATCH}: refbp-numpy / torch-autograd-cpu = "
                     f"{ratio:.2f}x (goal <= 1.0x: {'met' if ratio <= 1.0 else 'not met'})")
    if mine is not None:
        pct = mine["pct_of_gemm"]
        lines.append(f"goal: {GOAL_MODEL} float64 batch {GOAL_BATCH}: refbp-numpy {mine['gflops']:.1f} GFLOP/s = "
                     f"{pct:.0f}% of numpy's float64 GEMM rate {mine['gemm_peak_gflops']:.1f} GFLOP/s "
                     f"(goal >= 75%: {'met' if pct >= 75 else 'not met'})")
    for dtype in ("float64", "float32"):
        cuda = _pick(frame, GOAL_MODEL, dtype, GOAL_CUDA_BATCH, "refbp-torch-cuda")
        torch_cuda = _pick(frame, GOAL_MODEL, dtype, GOAL_CUDA_BATCH, "torch-autograd-cuda")
        if cuda is not None and torch_cuda is not None:
            ratio = cuda["seconds"] / torch_cuda["seconds"]
            lines.append(f"goal: {GOAL_MODEL} {dtype} batch {GOAL_CUDA_BATCH}: refbp-torch-cuda / torch-autograd-cuda"
                         f" = {ratio:.2f}x (goal <= 1.2x: {'met' if ratio <= 1.2 else 'not met'})")
    return lines


def report_sections(frame: pd.DataFrame, goals: list[str]) -> list:
    batched = frame[frame["mode"] == "batched"]
    sections = [("Goals (this run)", "\n\n".join(goals) or "no goal's rows were timed")]
    for (model, dtype), group in batched.groupby(["model", "dtype"], sort=False):
        per_example = group.pivot(index="batch", columns="backend", values="seconds_per_example")
        sections.append((f"{model} {dtype}: microseconds per example (batched)",
                         (per_example * 1e6).reset_index()))
        if group["speedup_over_serial"].notna().any():
            speedup = group.pivot(index="batch", columns="backend", values="speedup_over_serial")
            sections.append((f"{model} {dtype}: speed-up of the batched call over the serial loop",
                             speedup.reset_index()))
        pct = group.pivot(index="batch", columns="backend", values="pct_of_gemm")
        sections.append((f"{model} {dtype}: % of the backend's GEMM rate", pct.reset_index()))
    peaks = (frame.drop_duplicates(["backend", "dtype"])[["backend", "device", "dtype", "gemm_peak_gflops"]]
             .reset_index(drop=True))
    sections.append(("GEMM rate measured in this run (GFLOP/s)", peaks))
    return sections


def _panels(frame):
    return list(frame.groupby(["model", "dtype"], sort=False))


def plot_time_per_example(frame, path) -> bool:
    panels = _panels(frame)
    fig, axes = figure(len(panels))
    for ax, ((model, dtype), group) in zip(axes, panels):
        for (backend, mode), rows in group.groupby(["backend", "mode"], sort=False):
            ax.plot(rows["batch"], rows["seconds_per_example"] * 1e6, marker="o" if mode == "batched" else ".",
                    linestyle="-" if mode == "batched" else "--", color=BACKEND_COLORS.get(backend),
                    label=f"{backend} ({mode})")
        ax.set(xscale="log", yscale="log", xlabel="batch size", ylabel="microseconds per example",
               title=f"{model} {dtype}")
        ax.grid(True, which="both", alpha=0.3)
    return save_figure(fig, axes, path)


def plot_speedup(frame, path) -> bool:
    batched = frame[(frame["mode"] == "batched") & frame["speedup_over_serial"].notna()]
    if batched.empty:
        return False
    panels = _panels(batched)
    fig, axes = figure(len(panels))
    for ax, ((model, dtype), group) in zip(axes, panels):
        for backend, rows in group.groupby("backend", sort=False):
            ax.plot(rows["batch"], rows["speedup_over_serial"], marker="o", color=BACKEND_COLORS.get(backend),
                    label=backend)
        ax.axhline(1.0, color="grey", linewidth=0.8)
        ax.set(xscale="log", yscale="log", xlabel="batch size", ylabel="serial loop time / batched time",
               title=f"{model} {dtype}")
        ax.grid(True, which="both", alpha=0.3)
    return save_figure(fig, axes, path)


def plot_gflops(frame, path) -> bool:
    batched = frame[frame["mode"] == "batched"]
    panels = _panels(batched)
    fig, axes = figure(len(panels))
    for ax, ((model, dtype), group) in zip(axes, panels):
        for backend, rows in group.groupby("backend", sort=False):
            color = BACKEND_COLORS.get(backend)
            ax.plot(rows["batch"], rows["gflops"], marker="o", color=color, label=backend)
            ax.axhline(rows["gemm_peak_gflops"].iloc[0], color=color, linestyle=":", linewidth=1)
        ax.set(xscale="log", yscale="log", xlabel="batch size", ylabel="GFLOP/s (dotted: the GEMM rate)",
               title=f"{model} {dtype}")
        ax.grid(True, which="both", alpha=0.3)
    return save_figure(fig, axes, path)


PLOTS = [
    ("time_per_example.png", "time per example vs batch size, per backend (log-log; dashed: serial loop)",
     plot_time_per_example),
    ("speedup_over_serial.png", "speed-up of one batched call over a loop of batch-1 calls", plot_speedup),
    ("gflops.png", "GFLOP/s vs batch size; dotted lines: the GEMM rate of each backend's library", plot_gflops),
]
