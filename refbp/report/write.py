"""Writing a run to `reports/<run-id>/`: CSV, Markdown, HTML (refbp.report.run_page), plots,
verdicts and the environment.

A report folder is never reused: each run gets a new id, so nothing written earlier is lost.
Everything written comes from the run's verdicts; nothing is reloaded or recomputed.
"""

from __future__ import annotations

import io
import json
import secrets
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from .console import state_counts
from .environment import environment
from .frames import cases_frame, details_frame, entries_frame, failing_rows, summary_of, worst_by_reference
from .page import Page, Section, markdown
from .plots_rnn import draw_through_time, rnn_gradient_plots, through_time_caption, through_time_file
from .plots_run import error_plot, tolerance_heatmap
from .run_page import interrupted_headline, run_html
from .score import score_line, score_of


def new_run_dir(report_dir, prefix: str = "run") -> Path:
    """A fresh folder `<report_dir>/<prefix>-<local time>-<random>`; never an existing one."""
    root = Path(report_dir)
    root.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    while True:
        path = root / f"{prefix}-{stamp}-{secrets.token_hex(2)}"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue


def run_environment(run, extra: dict | None = None) -> dict:
    """environment.json of a run: versions, the run's dtypes, references and implementation, and the
    generated cases' seeds as their verdicts carry them."""
    seeds = {v.case: v.seeds for v in run.verdicts if v.seeds}
    return environment(
        {
            "reference_dtype": "float64",
            "dtypes": sorted({v.dtype for v in run.verdicts if v.dtype}),
            "device": "cpu",
            "seed": "no randomness at run time; generated cases carry their own seeds (see seeds)",
            "seeds": seeds,
            "oracles": list(run.oracles),
            "implementation": run.implementation,
            "started": run.started,
            "seconds": round(run.seconds, 3),
            "score": score_of(run),
            **(extra or {}),
        }
    )


def write_report(run, report_dir="reports", extra_environment: dict | None = None, draw=None) -> Path:
    """The report folder of `run` under `report_dir`; its pictures drawn by `draw(draw_picture,
    drawings) -> [PNG bytes, None (nothing to draw) or a failure with a .reason]` (the caller's
    workers, refbp.cli.outcome.picture_drawer; default: here, one by one), each written here (an
    RNN case has a plot of its own)."""
    out = new_run_dir(report_dir)
    details = details_frame(run)
    summary = summary_of(details, cases_frame(run))
    details.to_csv(out / "details.csv", index=False)
    summary.to_csv(out / "summary.csv", index=False)
    # The entries that are not plainly passing (failed, inconclusive, at a kink), one per line.
    entries = entries_frame(run)
    entries.to_csv(out / "entries.csv", index=False)
    env = run_environment(run, extra_environment)
    (out / "environment.json").write_text(json.dumps(env, indent=2) + "\n")
    (out / "verdicts.json").write_text(json.dumps([v.to_json() for v in run.verdicts], indent=1) + "\n")
    through_time = rnn_gradient_plots(run)
    files = [name for name, _, _ in PICTURES] + [through_time_file(case) for case in through_time]
    drawings: list[tuple[Callable[..., Any], tuple]] = [(draw, (details,)) for _, _, draw in PICTURES]
    drawings += [(draw_through_time, arguments) for arguments in through_time.values()]
    results = (draw or _one_by_one)(draw_picture, drawings)
    failed = [f"{name}: {result.reason}" for name, result in zip(files, results) if hasattr(result, "reason")]
    if failed:
        raise RuntimeError(f"pictures not drawn: {'; '.join(failed)}")
    for name, png in zip(files, results):
        if png is not None:
            (out / name).write_bytes(png)
    drawn = [result is not None for result in results]
    pictures = [(name, caption) for (name, caption, _), ok in zip(PICTURES, drawn) if ok]
    case_images = {
        case: [(through_time_file(case), through_time_caption(case))]
        for case, ok in zip(through_time, drawn[len(PICTURES) :])
        if ok
    }
    page = run_page(run, summary, details, env, pictures)
    (out / "summary.md").write_text(markdown(page))
    about = replace(page, lines=page.lines[1:])  # the run page states the verdict itself
    (out / "report.html").write_text(
        run_html(about, details, summary, pictures, case_images, run.seconds, entries, interrupted=interruption(run))
    )
    return out


def _one_by_one(function, units) -> list:
    return [function(unit) for unit in units]


def draw_picture(drawing) -> bytes | None:
    """One picture, in whichever process draws it: `(draw, arguments)` -> the PNG of
    draw(*arguments, file), or None when there was nothing to draw (module-level: pickled by name)."""
    draw, arguments = drawing
    png = io.BytesIO()
    return png.getvalue() if draw(*arguments, png) else None


# (file, caption, draw(details, path) -> drawn)
PICTURES = [
    (
        "errors.png",
        "Error distribution per reference (columns) and dtype (rows): log10 of each row's largest "
        "relative error; dashed: the rtol the rows were judged with; red: failed rows.",
        error_plot,
    ),
    (
        "error-over-tolerance.png",
        "Error over tolerance per case and tensor (log10 |actual - reference| / "
        "(atol + rtol |reference|) at the worst entry; above 0, marked x: out of "
        "tolerance).",
        tolerance_heatmap,
    ),
]


def interruption(run) -> str:
    """The note of a run that Ctrl-C ended (`interrupted (Ctrl-C) after K of N cases: ...`), "" otherwise."""
    if not getattr(run, "interrupted", False):
        return ""
    return next((note for note in run.notes if note.startswith("interrupted")), "interrupted (Ctrl-C)")


def headline(run) -> str:
    passed, inconclusive = state_counts(run)  # an inconclusive case never passes: counted apart
    counts = (
        f"{passed}/{len(run.verdicts)} cases passed, {len(run.failed)} failed, "
        + (f"{inconclusive} inconclusive, " if inconclusive else "")
        + f"{len(run.bad_input)} bad input ({run.seconds:.1f}s)"
    )
    return f"{interrupted_headline(interruption(run))}; {counts}" if interruption(run) else counts


def run_status(run) -> str:
    """fail (exit code not 0, or a case failed), inconclusive (no failure but an inconclusive
    case: exit 0 unless --strict), or pass."""
    if run.exit_code() != 0 or run.failed:
        return "fail"
    return "inconclusive" if state_counts(run)[1] else "pass"


def versions_line(env: dict) -> str:
    return (
        f"refbp {env['refbp']}, numpy {env['numpy']}, torch {env['torch']}, python {env['python']}; "
        "references in float64. Tolerances: see each row's atol/rtol."
    )


def run_page(run, summary, details, env, pictures=()) -> Page:
    """The run as a generic page: its Markdown summary (report.html is refbp.report.run_page's)."""
    failed = failing_rows(details)
    sections = [
        Section("Largest error per reference", table=worst_by_reference(details), images=list(pictures)),
        Section("Cases", table=summary.drop(columns=["path"]), fail_column="passed"),
    ]
    if not failed.empty:
        sections.insert(0, Section("Failed rows", table=failed))
    return Page(
        f"refbp run {run.started}",
        [headline(run), score_line(run), versions_line(env)],
        sections,
        env,
        status=run_status(run),
    )
