"""`refbp bench rnn`: backpropagation through time is serial in T, whatever the batch.

One forward + backward (BPTT) of an Elman RNN (tanh) with a readout at every step and
cross-entropy over classes per step, per backend:
  refbp-numpy         refbp.nn.rnn on numpy arrays
  torch-nn-rnn-cpu    the torch reference's network (refbp.oracle.torch_modules: torch.nn.RNN and a
                      torch.nn.Linear readout), torch.nn's cross-entropy, gradients by autograd
  refbp-torch-cuda, torch-nn-rnn-cuda   the same on CUDA (only when it is available)
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

import numpy as np

from refbp.cases.generate import random_problem
from refbp.cases.model import RNNNetwork

from .backends import RNN_BACKENDS
from .common import BackendOptions, device_of, select_backends, timing_environment
from .measure import Effort, Timed, interleaved_medians, synchronizer
from .steps import backend_step

if TYPE_CHECKING:
    import pandas as pd

BACKENDS = RNN_BACKENDS
SIZES = (64, 128, 10)  # input, hidden, output
DTYPE = "float64"
STEPS = (1, 10, 50, 200)
BATCHES = (1, 32, 256)
QUICK_STEPS, QUICK_BATCHES = (1, 10), (32,)
GOAL_STEPS, GOAL_BATCH = 50, 32
TITLE = "refbp bench rnn: one forward+backward through time (seconds are medians)"
NETWORK = RNNNetwork(
    input_size=SIZES[0],
    hidden_size=SIZES[1],
    output_size=SIZES[2],
    nonlinearity="tanh",
    output_activation="identity",
    readout="every_step",
)


@dataclass(frozen=True)
class Options(BackendOptions):
    steps: tuple[int, ...] = ()  # sequence lengths T; empty: STEPS (QUICK_STEPS with quick)
    batches: tuple[int, ...] = ()  # empty: BATCHES (QUICK_BATCHES with quick)


def model_name() -> str:
    return "rnn-" + "-".join(str(n) for n in SIZES)


def problem(batch: int, steps: int, seed: int = 0):
    """torch.nn.RNN's initial weights U(-1/sqrt(H), 1/sqrt(H)), normal inputs, a class per step
    (refbp.cases.generate): numpy arrays."""
    n_in, hidden, n_out = SIZES
    return random_problem(
        NETWORK.param_shapes(),
        (batch, steps, n_in),
        (batch, steps),
        targets="classes",
        classes=n_out,
        seed=seed,
        scheme="uniform",
        scale=1.0 / np.sqrt(hidden),
    )


def run(options: Options) -> pd.DataFrame:
    """Every row; per (batch, T), the backends are sampled in turns (`interleaved_medians`)."""
    # pandas takes ~0.3 s to import: only when a bench runs, not when the CLI starts.
    import pandas as pd

    backends = select_backends(options, BACKENDS)
    steps = options.steps or (QUICK_STEPS if options.quick else STEPS)
    batches = options.batches or (QUICK_BATCHES if options.quick else BATCHES)
    effort = Effort.of(options.quick)
    rows = []
    for batch in batches:
        print(f"  timing {model_name()} batch {batch}: {', '.join(backends)} ...", file=sys.stderr, flush=True)
        for T in steps:
            params, inputs, targets = problem(batch, T)
            timed = {}
            for backend in backends:
                step, x, t = backend_step(backend, NETWORK, "cross_entropy", params, inputs, targets)
                timed[backend] = Timed(
                    partial(step, x, t),
                    synchronizer(device_of(backend)),
                    library="numpy" if backend == "refbp-numpy" else "torch",
                    steady=True,
                )  # a BPTT training step: run in a loop
            seconds = interleaved_medians(timed, effort)
            for backend in backends:
                rows.append(
                    {
                        "model": model_name(),
                        "dtype": DTYPE,
                        "T": T,
                        "batch": batch,
                        "backend": backend,
                        "device": device_of(backend),
                        "seconds": seconds[backend],
                        "seconds_per_step": seconds[backend] / T,
                        "examples_per_s": batch / seconds[backend],
                    }
                )
    frame = pd.DataFrame(rows)
    rank = frame["backend"].map(BACKENDS.index)
    return (
        frame.assign(_b=rank).sort_values(["_b", "batch", "T"], kind="stable").drop(columns="_b").reset_index(drop=True)
    )


def environment(options: Options) -> dict:
    return timing_environment()


def goal_lines(frame) -> list[str]:
    """The issue's goals as measured in this run, and how close the time lies to a line in T."""

    def pick(backend):
        hit = frame[(frame["T"] == GOAL_STEPS) & (frame["batch"] == GOAL_BATCH) & (frame["backend"] == backend)]
        return None if hit.empty else hit.iloc[0]

    lines = []
    mine, theirs = pick("refbp-numpy"), pick("torch-nn-rnn-cpu")
    if mine is not None and theirs is not None:
        ratio = mine["seconds"] / theirs["seconds"]
        lines.append(
            f"goal: {model_name()} T {GOAL_STEPS} batch {GOAL_BATCH} float64: refbp-numpy / torch-nn-rnn-cpu"
            f" = {ratio:.2f}x (goal <= 1.0x: {'met' if ratio <= 1.0 else 'not met'})"
        )
    mine, theirs = pick("refbp-torch-cuda"), pick("torch-nn-rnn-cuda")
    if mine is not None and theirs is not None:
        lines.append(
            f"cuda: {model_name()} T {GOAL_STEPS} batch {GOAL_BATCH} float64: refbp-torch-cuda / torch-nn-rnn-cuda"
            f" = {mine['seconds'] / theirs['seconds']:.2f}x"
        )
    for (backend, batch), group in frame.groupby(["backend", "batch"], sort=False):
        if group["T"].nunique() >= 3:  # two points always lie on a line
            slope, intercept = np.polyfit(group["T"], group["seconds"], 1)
            fitted = np.polyval([slope, intercept], group["T"])
            worst = float(np.max(np.abs(fitted - group["seconds"]) / group["seconds"].max()))
            lines.append(
                f"linear in T: {backend} batch {batch}: {slope * 1e6:.1f} us per step + "
                f"{intercept * 1e6:.0f} us (largest deviation from the line {100 * worst:.1f}% of the longest time)"
            )
    return lines
