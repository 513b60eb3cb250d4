"""Mutants of refbp.nn that compute exactly what the original computes, each with the reason.

Keyed by `Mutant.key` (module.function: `before` -> `after`, #n for the n-th same edit in
the function). `refbp mutate` reports a listed mutant that the suite kills: then it was
not equivalent, and the entry must go.
"""

from __future__ import annotations

EQUIVALENT: dict[str, str] = {
}
