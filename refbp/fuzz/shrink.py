"""Shrinking a failing example with hypothesis: its round is replayed with a test that checks.

The replay (same seed, same settings, shrinking on) meets the round's examples in the order
they were drawn; those drawn before the failing one return at once (as they did when drawn),
the failing one fails again, and hypothesis then shrinks it: fewer layers, units, examples and steps, simpler
numbers, each candidate checked like any example. The smallest failing document is kept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from hypothesis import given, seed

from .draw import replay_settings, round_seed, seed_only
from .space import example_documents
from .unit import ExampleOutcome, Target, check_document


class ExampleFailed(Exception):
    """Raised inside the replay so that hypothesis shrinks; carries nothing hypothesis needs."""


@dataclass
class Shrunk:
    outcome: ExampleOutcome  # the smallest failing document found, and why it fails
    original_index: int  # the drawn example it was shrunk from
    checks: int  # examples checked while shrinking


def shrink(
    fuzz_seed: int, round_index: int, kind: str, dtype: str, target: Target, earlier: set[str], original_index: int
) -> Shrunk | None:
    """Replay round `round_index` and shrink its first failure after `earlier` (the JSON text of
    the round's documents drawn before the one to shrink: they return at once, as when they were
    drawn). None when the replay met no failure (a flaky check)."""
    failures: list[ExampleOutcome] = []
    checked = 0

    @seed(round_seed(fuzz_seed, round_index))
    @replay_settings()
    @given(example_documents(kind, dtype))
    def replay(document):
        nonlocal checked
        if json.dumps(document) in earlier:
            return
        checked += 1
        outcome = check_document(original_index, document, target)
        if outcome.supported and outcome.failed:
            failures.append(outcome)
            raise ExampleFailed(outcome.failure)

    try:
        with seed_only():
            replay()
    except ExampleFailed:
        pass
    if not failures:
        return None
    # hypothesis runs the smallest failing example last, to report it.
    return Shrunk(failures[-1], original_index, checked)
