"""One PNG per RNN verdict of a run: ||dE/dh_t|| against t on a log scale (vanishing/exploding gradients).

It draws the norms each verdict carries (`CaseVerdict.through_time`, from the checked
implementation's own backward); it loads no case and computes nothing.
"""

from __future__ import annotations

from pathlib import Path

MAX_TITLE = 70


def rnn_gradient_plots(run, out: Path) -> list[Path]:
    """`grad-through-time-<case>.png` for every verdict of the run with norms through time; the files written."""
    return [gradient_plot(verdict, out / f"grad-through-time-{verdict.case}.png")
            for verdict in run.verdicts if verdict.through_time]


def gradient_plot(verdict, path: Path) -> Path:
    import matplotlib  # imported here, as in write.py: slow to import, and only a written report needs it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    norms = verdict.through_time
    # A zero norm (a dead relu, no gradient at all) has no place on a log axis.
    drawn = [(t, value) for t, value in enumerate(norms) if value > 0]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.semilogy([t for t, _ in drawn], [value for _, value in drawn], marker="o", markersize=3)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("t (h_0 is the initial state)")
    ax.set_ylabel("||dE/dh_t||")
    subtitle = verdict.title if len(verdict.title) <= MAX_TITLE else verdict.title[:MAX_TITLE - 3].rstrip(" .,") + "..."
    ax.set_title(f"{verdict.case}: gradient reaching h_t" + (f"\n{subtitle}" if subtitle else ""), fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
