"""The plots of the benchmarks, drawn on headless matplotlib figures, and the canvas every plot
of refbp draws on. Each plot only draws the rows it is given. (A run's pictures:
refbp.report.plots_run; its RNN gradient-through-time plots: refbp.report.plots_rnn.)
"""

from __future__ import annotations

BACKEND_COLORS = {
    "refbp-numpy": "tab:blue",
    "refbp-torch-cpu": "tab:green",
    "torch-autograd-cpu": "tab:orange",
    "torch-nn-rnn-cpu": "tab:orange",
    "refbp-torch-cuda": "tab:purple",
    "torch-autograd-cuda": "tab:red",
    "torch-nn-rnn-cuda": "tab:red",
}


def canvas(width: float, height: float):
    """An empty figure of `width` x `height` inches on a headless (Agg) canvas, outside pyplot's
    global state (so that threads may draw at once)."""
    # matplotlib takes ~0.5 s to import: only when a plot is drawn, not when the CLI starts.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


def figure(panels: int, width: float = 5.2, height: float = 4.2):
    """A row of `panels` axes on a headless (Agg) canvas."""
    fig = canvas(width * panels, height)
    axes = fig.subplots(1, panels, squeeze=False)[0]
    return fig, list(axes)


def save_figure(fig, path, legend_axes=None, dpi: int = 100) -> bool:
    """The legend of `legend_axes` (if any), a tight layout, the PNG."""
    if legend_axes is not None:
        legend_axes.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    return True


def _panels(frame):
    return list(frame.groupby(["model", "dtype"], sort=False))


def _log_axes(ax, ylabel: str, title: str) -> None:
    ax.set(xscale="log", yscale="log", xlabel="batch size", ylabel=ylabel, title=title)
    ax.grid(True, which="both", alpha=0.3)


def plot_time_per_example(frame, path) -> bool:
    panels = _panels(frame)
    fig, axes = figure(len(panels))
    for ax, ((model, dtype), group) in zip(axes, panels):
        for (backend, mode), rows in group.groupby(["backend", "mode"], sort=False):
            ax.plot(
                rows["batch"],
                rows["seconds_per_example"] * 1e6,
                marker="o" if mode == "batched" else ".",
                linestyle="-" if mode == "batched" else "--",
                color=BACKEND_COLORS.get(backend),
                label=f"{backend} ({mode})",
            )
        _log_axes(ax, "microseconds per example", f"{model} {dtype}")
    return save_figure(fig, path, axes[0])


def plot_speedup(frame, path) -> bool:
    batched = frame[(frame["mode"] == "batched") & frame["speedup_over_serial"].notna()]
    if batched.empty:
        return False
    panels = _panels(batched)
    fig, axes = figure(len(panels))
    for ax, ((model, dtype), group) in zip(axes, panels):
        for backend, rows in group.groupby("backend", sort=False):
            ax.plot(
                rows["batch"], rows["speedup_over_serial"], marker="o", color=BACKEND_COLORS.get(backend), label=backend
            )
        ax.axhline(1.0, color="grey", linewidth=0.8)
        _log_axes(ax, "serial loop time / batched time", f"{model} {dtype}")
    return save_figure(fig, path, axes[0])


def plot_gflops(frame, path) -> bool:
    panels = _panels(frame[frame["mode"] == "batched"])
    fig, axes = figure(len(panels))
    for ax, ((model, dtype), group) in zip(axes, panels):
        for backend, rows in group.groupby("backend", sort=False):
            color = BACKEND_COLORS.get(backend)
            ax.plot(rows["batch"], rows["gflops"], marker="o", color=color, label=backend)
            ax.axhline(rows["gemm_peak_gflops"].median(), color=color, linestyle=":", linewidth=1)
        _log_axes(ax, "GFLOP/s (dotted: the GEMM rate)", f"{model} {dtype}")
    return save_figure(fig, path, axes[0])


def plot_time_vs_steps(frame, path) -> bool:
    fig, (ax, ax_step) = figure(2)
    styles = ["-", "--", ":", "-."]
    batches = sorted(frame["batch"].unique())
    for (backend, batch), group in frame.groupby(["backend", "batch"], sort=False):
        style, color = styles[batches.index(batch) % len(styles)], BACKEND_COLORS.get(backend)
        ax.plot(
            group["T"],
            group["seconds"] * 1e3,
            marker="o",
            linestyle=style,
            color=color,
            label=f"{backend} batch {batch}",
        )
        ax_step.plot(group["T"], group["seconds_per_step"] * 1e6, marker="o", linestyle=style, color=color)
    model, dtype = frame["model"].iloc[0], frame["dtype"].iloc[0]
    ax.set(
        xlabel="sequence length T",
        ylabel="milliseconds per forward+backward",
        title=f"{model} {dtype}: time vs T (linear axes)",
    )
    ax_step.set(
        xscale="log",
        yscale="log",
        xlabel="sequence length T",
        ylabel="microseconds per time step",
        title="time per step (flat = linear in T)",
    )
    for a in (ax, ax_step):
        a.grid(True, which="both", alpha=0.3)
    return save_figure(fig, path, ax)
