"""One PNG per RNN case of a run: ||dE/dh_t|| against t on a log scale (vanishing/exploding gradients)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def rnn_gradient_plots(run, out: Path) -> list[Path]:
    """`grad-through-time-<case>.png` for every RNN case of the run that loads; the files written."""
    from cases import CaseError, RNNNetwork, load_case

    written = []
    for verdict in run.verdicts:
        if not verdict.path or not verdict.network.startswith("rnn"):
            continue
        try:
            case = load_case(verdict.path)
        except CaseError:
            continue  # the run already reported it as bad input
        if not isinstance(case.network, RNNNetwork):
            continue
        try:
            written.append(gradient_plot(case, out / f"grad-through-time-{case.id}.png"))
        except Exception:  # a case refbp cannot compute is already a failed verdict; the report must still be written
            continue
    return written


def gradient_plot(case, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from refbp.explain_rnn import gradient_norms_through_time

    norms = gradient_norms_through_time(case)
    steps = np.arange(len(norms))
    positive = norms > 0  # a zero norm (a cut of truncated BPTT, a dead relu) has no place on a log axis
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.semilogy(steps[positive], norms[positive], marker="o", markersize=3)
    ax.set_xlabel("t (h_0 is the initial state)")
    ax.set_ylabel("||dE/dh_t||")
    title = f"{case.id}: gradient reaching h_t"
    if case.network.truncate is not None:
        title += f" (truncated every {case.network.truncate})"
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
