"""One PNG per RNN verdict of a run: ||dE/dh_t|| against t on a log scale (vanishing/exploding gradients).

It draws the norms each verdict carries (`CaseVerdict.through_time`, from the checked
implementation's own backward), or that the verdict store kept of them (the service's
/runs/{id}); it loads no case and computes nothing.
"""

from __future__ import annotations

from .plots import canvas

MAX_TITLE = 70


def through_time_caption(case: str) -> str:
    return f"||dE/dh_t|| of {case} (log scale)"


def through_time_file(case: str) -> str:
    return f"grad-through-time-{case}.png"


def rnn_gradient_plots(run) -> dict[str, tuple]:
    """{case: the arguments of `draw_through_time` but its target} for every verdict of the run
    with norms through time (refbp.report.write draws them, maybe in workers, into
    `through_time_file(case)`)."""
    return {v.case: (v.case, v.title, list(v.through_time)) for v in run.verdicts if v.through_time}


def draw_through_time(case: str, title: str, norms: list[float], target) -> bool:
    """||dE/dh_t|| against the integer steps t on a log axis, into `target` (a path or a binary file)."""
    from matplotlib.ticker import LogFormatter, MaxNLocator  # slow to import: only when drawn

    # A zero norm (a dead relu, no gradient at all) has no place on a log axis.
    drawn = [(t, value) for t, value in enumerate(norms) if value > 0]
    fig = canvas(6, 3.2)
    ax = fig.subplots()
    ax.semilogy([t for t, _ in drawn], [value for _, value in drawn], marker="o", markersize=3)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # steps are whole numbers
    ax.set_xlim(-0.5, max(len(norms) - 0.5, 0.5))
    # Plain "1e-05" labels and fixed margins: matplotlib's typeset 10^-5 labels and a tight
    # layout took half of each plot's time, and a run draws one plot per RNN case.
    # (The minor formatter labels some minor ticks only when the axis spans under about a decade.)
    ax.yaxis.set_major_formatter(LogFormatter())
    ax.yaxis.set_minor_formatter(LogFormatter(labelOnlyBase=False))
    ax.set_xlabel("step t (h_0 is the initial state)")
    ax.set_ylabel("||dE/dh_t||")
    subtitle = title if len(title) <= MAX_TITLE else title[: MAX_TITLE - 3].rstrip(" .,") + "..."
    ax.set_title(f"{case}: gradient reaching h_t" + (f"\n{subtitle}" if subtitle else ""), fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    fig.subplots_adjust(left=0.13, right=0.97, bottom=0.15, top=0.83)
    fig.savefig(target, dpi=90, format="png")
    return True
