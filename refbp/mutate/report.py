"""A mutation run in words: the score, the counts per file and operator, every survivor
(equivalent, with the reason, or a gap in the suite) and every killed mutant with the case
that killed it (the markdown report)."""

from __future__ import annotations

from collections import Counter


def report_lines(run) -> list[str]:
    """The summary the command prints."""
    equivalent = [r for r in run.survivors if r.equivalent]
    lines = [
        f"refbp mutate: {len(run.results)} mutants of refbp.nn's backward, loss gradient and update code; "
        f"{len(run.killed)} killed by the suite, {len(equivalent)} equivalent, {len(run.unexplained)} survived; "
        f"score {100 * run.score:.1f}% of the non-equivalent mutants; {run.seconds:.0f} s "
        f"(the unmutated suite: {run.baseline_seconds:.1f} s)"
    ]
    for result in run.unexplained:
        lines.append(
            f"  SURVIVED {result.mutant.path}:{result.mutant.line} {result.mutant.key} ({result.mutant.label})"
        )
    for result in run.listed_but_killed:
        lines.append(f"  LISTED AS EQUIVALENT BUT KILLED by {result.case}: {result.mutant.key}")
    for result in equivalent:
        lines.append(f"  equivalent {result.mutant.path}:{result.mutant.line} {result.mutant.key}")
    return lines


SUMMARY_COMMAND = "refbp mutate --summary docs/mutation.md --report reports/mutation.md"


def report_summary(run) -> str:
    """The summary kept in the repository (docs/mutation.md): the score, the counts per file
    and operator, the survivors in a line each; the full table is --report's."""
    out = [
        "# Mutation testing of refbp.nn (`refbp mutate`)",
        "",
        f"Written by `{SUMMARY_COMMAND}` (the full table of every mutant, and the reason for "
        "each equivalent one, is in the report); do not edit by hand.",
        "",
        *report_lines(run)[:1],
        "",
    ]
    out += _counts(run)
    out += ["", "## Survivors", ""]
    if not run.survivors:
        out.append("None.")
    for result in run.survivors:
        what = "equivalent (refbp/mutate/equivalent.py says why)" if result.equivalent else "**a gap in the suite**"
        key = result.mutant.key.replace("|", "\\|")
        out.append(f"- `{result.mutant.path}:{result.mutant.line}` {key} ({result.mutant.label}): {what}")
    return "\n".join(out) + "\n"


def _counts(run) -> list[str]:
    out = ["| file | mutants | killed | equivalent | survived |", "|---|---|---|---|---|"]
    for path in sorted({r.mutant.path for r in run.results}):
        mine = [r for r in run.results if r.mutant.path == path]
        out.append(
            f"| {path} | {len(mine)} | {sum(r.killed for r in mine)} | "
            f"{sum(bool(r.equivalent) and not r.killed for r in mine)} | "
            f"{sum(not r.killed and not r.equivalent for r in mine)} |"
        )
    labels = Counter(r.mutant.label for r in run.results)
    return out + ["", "Operators: " + ", ".join(f"{label} {n}" for label, n in labels.most_common())]


def report_markdown(run) -> str:
    """The full report: the summary, counts, survivors with reasons, and every mutant's fate."""
    out = ["# Mutation testing of refbp.nn (`refbp mutate`)", "", *report_lines(run)[:1], ""]
    out += _counts(run)
    out += ["", "## Survivors", ""]
    if not run.survivors:
        out.append("None.")
    for result in run.survivors:
        why = result.equivalent or "**not killed: a gap in the suite**"
        out.append(f"- `{result.mutant.path}:{result.mutant.line}` {result.mutant.key} ({result.mutant.label}): {why}")
    out += [
        "",
        "## Every mutant",
        "",
        "| line | mutant | operator | killed by | first failing check |",
        "|---|---|---|---|---|",
    ]
    for result in run.results:
        by = result.case or ("-" if not result.killed else "(crash)")
        reason = result.reason.replace("|", "\\|") if result.killed else "survived"
        key = result.mutant.key.replace("|", "\\|")
        out.append(f"| {result.mutant.path}:{result.mutant.line} | {key} | {result.mutant.label} | {by} | {reason} |")
    return "\n".join(out) + "\n"
