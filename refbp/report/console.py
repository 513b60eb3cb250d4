"""The readable tables `refbp run` and `refbp bench` print, and a bench's rows as JSON."""

from __future__ import annotations

import math

import pandas as pd

from refbp.check.provided import partial_items
from refbp.check.verdict import VerdictState

from .score import expectation_lines, score_line

# The status column of a case line (four characters): the verdict's state.
STATE_MARKS = {VerdictState.PASS: "PASS", VerdictState.FAIL: "FAIL", VerdictState.INCONCLUSIVE: "INC "}


def _err(value: float) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.1e}"


def format_verdict_line(verdict, mark: str = "") -> str:
    """One line per case: status, id, network, dtype, rows, worst relative error per reference (`mark`:
    XFAIL or XPASS, what --xfails made of the case)."""
    if mark:
        status = mark[:5]
    elif verdict.error_kind == "input":
        status = "BAD "
    elif verdict.error_kind == "unsupported":
        status = "N/S "  # the implementation does not support the case: listed, never passed
    elif verdict.state is VerdictState.PASS and verdict.partial:
        status = "PART"  # passed on what it gives; the rest is not provided (refbp.check.provided)
    else:
        status = STATE_MARKS[verdict.state]  # INC: inconclusive, never passed
    worst: dict[str, float] = {}
    for check in verdict.checks:
        worst[check.reference] = max(worst.get(check.reference, 0.0), check.max_rel_err)
    return (
        f"{status}  {verdict.case:<34.34} {verdict.network:<26.26} {verdict.dtype or '-':<8} "
        f"{len(verdict.checks):>4}  {_err(worst.get('torch-autograd', math.nan)):>8} "
        f"{_err(worst.get('finite-difference', math.nan)):>8} {_err(worst.get('expected', math.nan)):>8} "
        f"{verdict.seconds:6.2f}s"
    )


HEADER = (
    f"{'':4}  {'case':<34} {'network':<26} {'dtype':<8} {'rows':>4}  {'torch':>8} {'fd':>8} {'expected':>8} {'time':>7}"
)


def format_failures(verdict, limit: int = 8) -> list[str]:
    lines = [f"  {error}" for error in verdict.errors]
    failed = verdict.failed_checks()
    for check in failed[:limit]:
        index = "".join(f"[{i}]" for i in check.worst_index)
        if check.diagnosis == "missing":  # no number to show: not given at all
            lines.append(
                f"  {verdict.case}: {check.quantity} {check.tensor} vs {check.reference}: not given"
                f"{' - ' + check.note if check.note else ''}"
            )
            continue
        lines.append(
            f"  {verdict.case}: {check.quantity} {check.tensor}{index} vs {check.reference}: "
            f"got {check.actual:.10g}, reference {check.expected_value:.10g} "
            f"(abs err {_err(check.max_abs_err)}, rel err {_err(check.max_rel_err)}, "
            f"atol {check.atol:g}, rtol {check.rtol:g}){' - ' + check.note if check.note else ''}"
        )
        if check.diagnosis:
            lines.append(f"    diagnosis: {check.diagnosis}: {check.diagnosis_note}")
        if check.convention:
            lines.append(f"    convention: {check.convention}")
    if len(failed) > limit:
        lines.append(f"  ... and {len(failed) - limit} more failed rows (see details.csv)")
    lines += format_inconclusive(verdict, limit)
    if verdict.partial:
        lines.append(
            f"  {verdict.case}: PARTIAL: judged on what it gives; not provided: "
            f"{', '.join(partial_items(verdict))} (--require all fails it)"
        )
    if verdict.first_departure:
        lines.append(f"  {verdict.case}: where it starts: {verdict.first_departure}")
    return lines


def format_inconclusive(verdict, limit: int = 8) -> list[str]:
    """The rows of a case that no reference could judge to the accuracy needed, one line each."""
    rows = verdict.inconclusive_checks()
    lines = [
        f"  {verdict.case}: inconclusive: {check.quantity} {check.tensor} vs {check.reference}: "
        f"{check.inconclusive} entries no reference could judge to the accuracy needed"
        + (f" ({check.convention})" if check.convention else "")
        + (f" - {check.note}" if check.note else "")
        for check in rows[:limit]
    ]
    if len(rows) > limit:
        lines.append(f"  ... and {len(rows) - limit} more inconclusive rows (see details.csv)")
    return lines


def state_counts(run) -> tuple[int, int]:
    """(cases passed, cases inconclusive) of a run."""
    states = [v.state for v in run.verdicts]
    return states.count(VerdictState.PASS), states.count(VerdictState.INCONCLUSIVE)


def counts_line(run) -> str:
    """ "3/5 cases passed, 1 failed, 1 inconclusive, 0 bad input": an inconclusive case counted apart."""
    unsupported = sum(v.error_kind == "unsupported" for v in run.verdicts)
    passed, inconclusive = state_counts(run)
    partial = sum(v.state is VerdictState.PASS and v.partial for v in run.verdicts)
    return (
        f"{passed}/{len(run.verdicts)} cases passed"
        + (f" ({partial} partial)" if partial else "")
        + f", {len(run.failed)} failed, "
        + (f"{inconclusive} inconclusive, " if inconclusive else "")
        + f"{len(run.bad_input)} bad input"
        + (f", {unsupported} not supported" if unsupported else "")
    )


def format_run(run, report_dir=None) -> str:
    lines = [HEADER]
    marks = getattr(run, "marks", {})  # --xfails (refbp.check.xfails)
    lines += [format_verdict_line(v, marks[v.case].mark if v.case in marks else "") for v in run.verdicts]
    problems = [
        v for v in run.verdicts if (v.state is not VerdictState.PASS or v.partial) and v.error_kind != "unsupported"
    ]
    if problems:
        lines.append("")
        for verdict in problems:
            lines += format_failures(verdict)
    lines.append("")
    lines.append(
        counts_line(run)
        + f", in {run.seconds:.1f}s"
        + (f"; report: {report_dir}" if report_dir else "")
        + (
            "; --strict: an inconclusive case fails the run"
            if getattr(run, "strict", False) and state_counts(run)[1]
            else ""
        )
    )
    lines += [score_line(run)] + expectation_lines(run)
    return "\n".join(lines)


def format_bench(frame, title: str, goals: list[str], report_dir=None) -> str:
    """A bench's title, its rows, its goal lines and where its report went."""
    with pd.option_context("display.width", 200, "display.max_rows", 1000, "display.max_columns", 30):
        table = frame.to_string(index=False, float_format=lambda v: f"{v:.4g}")
    return "\n".join([title, table, *goals] + ([f"report: {report_dir}"] if report_dir is not None else []))


def json_rows(frame) -> list[dict]:
    """The rows as JSON-safe dicts (a missing number, NaN, becomes null)."""
    rows = []
    for row in frame.to_dict(orient="records"):
        clean = {}
        for key, value in row.items():
            if hasattr(value, "item"):
                value = value.item()
            clean[key] = None if isinstance(value, float) and not math.isfinite(value) else value
        rows.append(clean)
    return rows
