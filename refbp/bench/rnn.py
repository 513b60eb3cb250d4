"""`refbp bench rnn`: backpropagation through time is serial in T, whatever the batch.

One forward + backward (BPTT) of an Elman RNN (tanh) with a readout at every step and
cross-entropy over classes per step, per backend:
  refbp-numpy         refbp.nn.rnn on numpy arrays
  torch-nn-rnn-cpu    torch.nn.RNN + torch.nn.Linear + F.cross_entropy, gradients by autograd
  refbp-torch-cuda, torch-nn-rnn-cuda   the same on CUDA (only when it is available)
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

from .measure import Effort, Timed, environment, interleaved_medians, synchronizer
from .output import (BACKEND_COLORS, BenchUsageError, add_common_arguments, emit, fail_usage, figure,
                     select_backends, write_report)

HELP = """\
Time one forward+backward through time of an RNN per sequence length T, batch and backend.

Model: input 64, hidden 128, output 10 (tanh, readout at every step, cross-entropy on class
indices per step), float64; T in 1, 10, 50, 200; batch 32 (also 1 and 256, to show that time
grows linearly in T whatever the batch). Backends refbp-numpy, torch-nn-rnn-cpu
(torch.nn.RNN + Linear + autograd) and, with CUDA, refbp-torch-cuda, torch-nn-rnn-cuda
(synchronised). Each time is the median of several runs.

Writes reports/bench-rnn-<id>/ (results.csv, summary.md, report.html, environment.json and
PNG plots of time and time per step against T).

Threads: numpy (OpenBLAS) and torch (OpenMP) use every core by default; on a machine shared
with other work their thread barriers stall and the times scatter by several x. Compare them
single-threaded there: OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 refbp bench rnn (environment.json
records these variables and torch's thread count).
"""

BACKENDS = {  # name -> device
    "refbp-numpy": "cpu",
    "torch-nn-rnn-cpu": "cpu",
    "refbp-torch-cuda": "cuda",
    "torch-nn-rnn-cuda": "cuda",
}
SIZES = (64, 128, 10)  # input, hidden, output
DTYPE = "float64"
STEPS = (1, 10, 50, 200)
BATCHES = (1, 32, 256)
QUICK_STEPS, QUICK_BATCHES = (1, 10), (32,)
GOAL_STEPS, GOAL_BATCH = 50, 32


def add_arguments(parser) -> None:
    add_common_arguments(parser, BACKENDS)
    parser.add_argument("--batches", metavar="LIST", help="comma-separated batch sizes (default: 1,32,256)")
    parser.add_argument("--steps", metavar="LIST", help="comma-separated sequence lengths T (default: 1,10,50,200)")


def main(args) -> int:
    try:
        backends = select_backends(args, BACKENDS)
        steps = _ints(args.steps, "--steps", QUICK_STEPS if args.quick else STEPS)
        batches = _ints(args.batches, "--batches", QUICK_BATCHES if args.quick else BATCHES)
        _need_refbp_rnn(backends)
    except BenchUsageError as exc:
        return fail_usage(str(exc))
    frame = run(backends, steps, batches, Effort.of(args.quick))
    goals = goal_lines(frame)
    report = None
    if not args.no_report:
        report = write_report("rnn", frame, report_sections(frame, goals), PLOTS, environment(), args.report_dir)
    emit(frame, args, "refbp bench rnn: one forward+backward through time (seconds are medians)", report, goals)
    return 0


def _ints(text, option: str, default) -> tuple[int, ...]:
    if not text:
        return default
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise BenchUsageError(f"{option}: not a list of integers: {text!r}") from None
    if not values or min(values) < 1:
        raise BenchUsageError(f"{option}: values must be positive integers")
    return values


def _need_refbp_rnn(backends) -> None:
    if any(b.startswith("refbp-") for b in backends):
        try:
            from refbp.nn.rnn import RNN  # noqa: F401
        except ImportError as exc:
            raise BenchUsageError(f"refbp.nn.rnn is not available: {exc}") from None


def model_name() -> str:
    return "rnn-" + "-".join(str(n) for n in SIZES)


def problem(batch: int, steps: int, seed: int = 0):
    """torch.nn.RNN-like weights U(-1/sqrt(H), 1/sqrt(H)), normal inputs, a class per step: numpy."""
    n_in, hidden, n_out = SIZES
    rng = np.random.default_rng(seed)
    bound = 1.0 / np.sqrt(hidden)
    shapes = {"rnn.weight_ih": (hidden, n_in), "rnn.weight_hh": (hidden, hidden), "rnn.bias_ih": (hidden,),
              "rnn.bias_hh": (hidden,), "readout.weight": (n_out, hidden), "readout.bias": (n_out,)}
    params = {name: rng.uniform(-bound, bound, shape).astype(DTYPE) for name, shape in shapes.items()}
    inputs = rng.standard_normal((batch, steps, n_in)).astype(DTYPE)
    targets = rng.integers(0, n_out, (batch, steps))
    return params, inputs, targets


def refbp_step(params, inputs, targets):
    from cases.model import RNNNetwork
    from refbp.nn import losses
    from refbp.nn.backend import namespace
    from refbp.nn.rnn import RNN

    n_in, hidden, n_out = SIZES
    model = RNN(RNNNetwork(input_size=n_in, hidden_size=hidden, output_size=n_out, nonlinearity="tanh",
                           output_activation="identity", readout="every_step"))
    loss = losses.get("cross_entropy")
    xp = namespace(inputs)

    def step():
        cache = model.forward(xp, params, inputs)
        loss.value(xp, cache.outputs, targets)
        model.backward(xp, params, cache, loss.gradient(xp, cache.outputs, targets))

    return step


def torch_step(params, inputs, targets, device: str):
    import torch

    n_in, hidden, n_out = SIZES
    dtype = getattr(torch, DTYPE)
    rnn = torch.nn.RNN(n_in, hidden, nonlinearity="tanh", batch_first=True, dtype=dtype, device=device)
    readout = torch.nn.Linear(hidden, n_out, dtype=dtype, device=device)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(rnn, f"{name}_l0").copy_(torch.as_tensor(params[f"rnn.{name}"]))
        readout.weight.copy_(torch.as_tensor(params["readout.weight"]))
        readout.bias.copy_(torch.as_tensor(params["readout.bias"]))
    weights = list(rnn.parameters()) + list(readout.parameters())
    x = torch.as_tensor(inputs, device=device)
    t = torch.as_tensor(targets, device=device).reshape(-1)

    def step():
        states, _ = rnn(x)
        loss = torch.nn.functional.cross_entropy(readout(states).reshape(-1, n_out), t)
        torch.autograd.grad(loss, weights)

    return step


def backend_step(backend: str, params, inputs, targets):
    device = BACKENDS[backend]
    if backend == "refbp-numpy":
        return refbp_step(params, inputs, targets), device
    if backend.startswith("refbp-"):
        import torch

        def put(a):
            return torch.as_tensor(a, device=device)

        return refbp_step({k: put(v) for k, v in params.items()}, put(inputs), put(targets)), device
    return torch_step(params, inputs, targets, device), device


def run(backends, steps, batches, effort: Effort) -> pd.DataFrame:
    """Every row; per (batch, T), the backends are sampled in turns (`interleaved_medians`)."""
    import pandas as pd

    rows = []
    for batch in batches:
        print(f"  timing {model_name()} batch {batch}: {', '.join(backends)} ...", file=sys.stderr, flush=True)
        for T in steps:
            params, inputs, targets = problem(batch, T)
            timed = {}
            for backend in backends:
                step, device = backend_step(backend, params, inputs, targets)
                timed[backend] = Timed(step, synchronizer(device), library="numpy" if backend == "refbp-numpy" else "torch")
            seconds = interleaved_medians(timed, effort)
            for backend in backends:
                rows.append({"model": model_name(), "dtype": DTYPE, "T": T, "batch": batch, "backend": backend,
                             "device": BACKENDS[backend], "seconds": seconds[backend],
                             "seconds_per_step": seconds[backend] / T, "examples_per_s": batch / seconds[backend]})
    frame = pd.DataFrame(rows)
    rank = frame["backend"].map(list(BACKENDS).index)
    return (frame.assign(_b=rank).sort_values(["_b", "batch", "T"], kind="stable").drop(columns="_b")
            .reset_index(drop=True))


def goal_lines(frame) -> list[str]:
    def pick(backend):
        hit = frame[(frame["T"] == GOAL_STEPS) & (frame["batch"] == GOAL_BATCH) & (frame["backend"] == backend)]
        return None if hit.empty else hit.iloc[0]

    lines = []
    mine, theirs = pick("refbp-numpy"), pick("torch-nn-rnn-cpu")
    if mine is not None and theirs is not None:
        ratio = mine["seconds"] / theirs["seconds"]
        lines.append(f"goal: {model_name()} T {GOAL_STEPS} batch {GOAL_BATCH} float64: refbp-numpy / torch-nn-rnn-cpu"
                     f" = {ratio:.2f}x (goal <= 1.0x: {'met' if ratio <= 1.0 else 'not met'})")
    mine, theirs = pick("refbp-torch-cuda"), pick("torch-nn-rnn-cuda")
    if mine is not None and theirs is not None:
        lines.append(f"cuda: {model_name()} T {GOAL_STEPS} batch {GOAL_BATCH} float64: refbp-torch-cuda / torch-nn-rnn-cuda"
                     f" = {mine['seconds'] / theirs['seconds']:.2f}x")
    for (backend, batch), group in frame.groupby(["backend", "batch"], sort=False):
        if group["T"].nunique() >= 3:  # two points always lie on a line
            slope, intercept = np.polyfit(group["T"], group["seconds"], 1)
            fitted = np.polyval([slope, intercept], group["T"])
            worst = float(np.max(np.abs(fitted - group["seconds"]) / group["seconds"].max()))
            lines.append(f"linear in T: {backend} batch {batch}: {slope * 1e6:.1f} us per step + "
                         f"{intercept * 1e6:.0f} us (largest deviation from the line {100 * worst:.1f}% of the longest time)")
    return lines


def report_sections(frame, goals) -> list:
    sections = [("Goals and linearity in T (this run)", "\n\n".join(goals) or "no rows")]
    for batch, group in frame.groupby("batch", sort=False):
        table = group.pivot(index="T", columns="backend", values="seconds") * 1e3
        sections.append((f"batch {batch}: milliseconds per forward+backward", table.reset_index()))
        per_step = group.pivot(index="T", columns="backend", values="seconds_per_step") * 1e6
        sections.append((f"batch {batch}: microseconds per time step", per_step.reset_index()))
    return sections


def plot_time_vs_steps(frame, path) -> bool:
    fig, (ax, ax_step) = figure(2)
    styles = ["-", "--", ":", "-."]
    for (backend, batch), group in frame.groupby(["backend", "batch"], sort=False):
        style = styles[sorted(frame["batch"].unique()).index(batch) % len(styles)]
        color = BACKEND_COLORS.get(backend)
        ax.plot(group["T"], group["seconds"] * 1e3, marker="o", linestyle=style, color=color,
                label=f"{backend} batch {batch}")
        ax_step.plot(group["T"], group["seconds_per_step"] * 1e6, marker="o", linestyle=style, color=color)
    ax.set(xlabel="sequence length T", ylabel="milliseconds per forward+backward",
           title=f"{model_name()} {DTYPE}: time vs T (linear axes)")
    ax_step.set(xscale="log", yscale="log", xlabel="sequence length T", ylabel="microseconds per time step",
                title="time per step (flat = linear in T)")
    for a in (ax, ax_step):
        a.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return True


PLOTS = [("rnn_time_vs_T.png", "RNN forward+backward time vs sequence length T, per backend and batch",
          plot_time_vs_steps)]
