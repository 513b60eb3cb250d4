"""The score of a run in one line, as a scoreboard gives it: "41/46 cases (89 %): forward 100 %,
gradients 87 %, training 80 %", and the expected failures' lines beside it.

Cases count when checked (a declined case is left out); a case passes in the state pass only (an
inconclusive or XFAIL case is not a pass). A part declared not provided counts in no category.
Each category counts the parts of refbp.check.parts judged in it: a gradient part per tensor, so a
wrong tensor of four costs a quarter of the gradients, not the whole case. Percentages are rounded
down: 100 % means every one passed.
"""

from __future__ import annotations

from refbp.check.parts import CATEGORIES, MISSING, verdict_parts
from refbp.check.verdict import VerdictState


def score_of(run) -> dict:
    """{"cases": {"passed", "total"}, "forward": {...}, "gradients": {...}, "training": {...}}: the
    categories no part of the run belongs to are left out."""
    verdicts = [v for v in run.verdicts if v.error_kind != "unsupported"]
    score = {"cases": {"passed": sum(v.state is VerdictState.PASS for v in verdicts), "total": len(verdicts)}}
    for category in CATEGORIES:
        # A part declared not provided (a partial answer, refbp.check.provided) is not judged and
        # not counted; under --require all it carries failed rows and counts as failed.
        parts = [p for v in verdicts for p in verdict_parts(v) if p.category == category and p.state != MISSING]
        if parts:
            score[category] = {"passed": sum(p.passed for p in parts), "total": len(parts)}
    return score


def percent(passed: int, total: int) -> int:
    return 100 * passed // total if total else 0


def score_line(run) -> str:
    """ "41/46 cases (89 %): forward 100 %, gradients 87 %, training 80 %" (and the XFAIL and XPASS
    counts when the run has expected failures)."""
    score = score_of(run)
    cases = score.pop("cases")
    line = f"score: {cases['passed']}/{cases['total']} cases ({percent(cases['passed'], cases['total'])} %)"
    if score:
        line += ": " + ", ".join(f"{name} {percent(s['passed'], s['total'])} %" for name, s in score.items())
    marks = getattr(run, "marks", None)
    if marks is not None:
        xfail = sum(m.mark == "XFAIL" for m in marks.values())
        line += f"; {xfail} XFAIL, {len(run.xpasses)} XPASS"
    return line


def expectation_lines(run) -> list[str]:
    """One line per XFAIL case, per XPASS entry and per entry that matched no case (a run with --xfails)."""
    marks = getattr(run, "marks", None)
    if marks is None:
        return []
    lines = [f"XFAIL  {case}: {'; '.join(mark.reasons)}" for case, mark in marks.items() if mark.mark == "XFAIL"]
    for case, entry in run.xpasses:
        lines.append(
            f"XPASS  {case}: {entry.pattern} was expected to fail ({entry.reason}) but passed: remove it "
            f"from {entry.where(run.xfails_path)}" + (" (--strict-xfail: the run fails)" if run.strict_xfail else "")
        )
    for entry in run.unmatched:
        lines.append(f"note: {entry.where(run.xfails_path)}: {entry.pattern} matches no case of this run")
    return lines
