"""A row's note in a few words: how many entries ended how, and by which method.

A note used to list every reason in full ("3 entries at non-differentiable points, not judged;
3 entries with an FD error estimate above the tolerance (weak check there); 24 entries outside
... judged by richardson instead; ...", up to 600 characters). The counts say it shorter, and
the entries themselves go to the report's entries.csv (refbp.check.verdict.EntryRecord):

    >>> short_note({"judged:richardson": 24, "judged:central": 6, "kink:torch judges": 3, "inconclusive": 1})
    '30 judged (24 richardson, 6 central), 3 at a kink (torch judges), 1 inconclusive'

A key is a state (`judged`, `failed`, `kink`, `inconclusive`, `not judged`, or any other word)
or `state:detail` (the method that judged the entries, the convention they matched, who judges
them). A state's total is its own key when given, else the sum of its details; zero counts are
left out. States come in the order above, others after them in the order given.
"""

from __future__ import annotations

# Known states, in the order they are written, and how each reads after its count.
STATES = {
    "judged": "judged",
    "failed": "failed",
    "kink": "at a kink",
    "inconclusive": "inconclusive",
    "not judged": "not judged",
}
# Details shown per state; more are summed up as "+N more".
MAX_DETAILS = 3


def short_note(counts: dict[str, int]) -> str:
    """`counts` ({state or "state:detail": entries}) as a few words, e.g. "30 judged (24
    richardson, 6 central), 3 at a kink (torch judges), 1 inconclusive"; "" when nothing counts."""
    totals: dict[str, int] = {}
    details: dict[str, dict[str, int]] = {}
    for key, count in counts.items():
        state, sep, detail = str(key).partition(":")
        state, detail, count = state.strip(), detail.strip(), int(count)
        if not state or count <= 0:
            continue
        details.setdefault(state, {})
        if sep and detail:
            details[state][detail] = details[state].get(detail, 0) + count
        else:
            totals[state] = totals.get(state, 0) + count
    order = [s for s in STATES if s in details] + [s for s in details if s not in STATES]
    parts = []
    for state in order:
        total = totals.get(state, sum(details[state].values()))
        if total <= 0:
            continue
        parts.append(f"{total} {STATES.get(state, state)}{_details(details[state], total)}")
    return ", ".join(parts)


def _details(details: dict[str, int], total: int) -> str:
    if not details:
        return ""
    if len(details) == 1 and next(iter(details.values())) == total:
        return f" ({next(iter(details))})"  # all of them: no count needed
    ranked = sorted(details.items(), key=lambda item: -item[1])  # stable: ties keep the order given
    shown = [f"{count} {detail}" for detail, count in ranked[:MAX_DETAILS]]
    if len(ranked) > MAX_DETAILS:
        shown.append(f"+{sum(count for _, count in ranked[MAX_DETAILS:])} more")
    return f" ({', '.join(shown)})"


__all__ = ["short_note"]
