"""Drawing examples reproducibly: example i of seed S is a pure function of (S, i, space).

hypothesis generates a run's examples one after another (each draw learns from the ones
before), so examples are drawn in rounds of `ROUND_SIZE`: round r is one hypothesis run of
ROUND_SIZE examples, seeded by (S, r) through `@seed`, with no example database and no
deadline, that only records what it draws. Example i is position i % ROUND_SIZE of round
i // ROUND_SIZE, whatever the budget (`--examples` or `--minutes`) and wherever it is
checked. Drawing costs about 10 ms of CPU an example, a large part of fuzz's work: over
workers, rounds are drawn in parallel before their examples are checked (refbp.fuzz.spread).

`replay_settings` are the same settings with shrinking on: a round replayed with a test that
checks (refbp.fuzz.shrink) meets the same examples in the same order, up to the first failure.

hypothesis (since 6.13x) also mixes into its draws numbers found in the source of the local
modules loaded at the time: the same seed would then draw other examples under pytest, or
with another `--impl` module loaded. `seed_only()` empties that pool while fuzz draws, so
that a seed alone decides (the global constants hypothesis always tries stay in).
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from functools import lru_cache

import numpy as np
from hypothesis import HealthCheck, Phase, Verbosity, given, seed, settings
from hypothesis.internal.conjecture import providers

from .space import example_documents

ROUND_SIZE = 100


def round_seed(fuzz_seed: int, round_index: int) -> int:
    """The hypothesis seed of round `round_index` of `fuzz_seed` (independent streams per round)."""
    return int(np.random.SeedSequence([int(fuzz_seed), int(round_index)]).generate_state(1, np.uint64)[0])


def draw_settings(phases=(Phase.generate,)) -> settings:
    """Database-less, deadline-free, quiet, every health check off (the checks are slow by design)."""
    return settings(
        max_examples=ROUND_SIZE,
        database=None,
        deadline=None,
        derandomize=False,
        phases=phases,
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
        print_blob=False,
        report_multiple_bugs=False,
    )


def replay_settings() -> settings:
    return draw_settings(phases=(Phase.generate, Phase.shrink))


@contextmanager
def seed_only():
    """Draws that depend on the seed alone: no constants from the loaded modules' source."""
    local = getattr(providers, "_get_local_constants", None)
    if local is None:  # a hypothesis without the local-constants pool: nothing to pin
        yield
        return
    empty = type(local())()  # Constants() with no integers, floats, bytes or strings
    providers.CONSTANTS_CACHE.cache.clear()
    providers._get_local_constants = lambda: empty
    try:
        yield
    finally:
        providers._get_local_constants = local
        providers.CONSTANTS_CACHE.cache.clear()


@lru_cache(maxsize=8)
def _round(fuzz_seed: int, round_index: int, kind: str, dtype: str) -> tuple[str, ...]:
    drawn: list[dict] = []

    @seed(round_seed(fuzz_seed, round_index))
    @draw_settings()
    @given(example_documents(kind, dtype))
    def record(document):
        drawn.append(document)

    with seed_only():
        record()
    # Kept as JSON text: the cache hands out fresh documents that no caller can alter.
    return tuple(json.dumps(d) for d in drawn)


def draw_round(fuzz_seed: int, round_index: int, kind: str, dtype: str) -> list[dict]:
    """The documents of one round, in hypothesis's order."""
    return [json.loads(text) for text in _round(fuzz_seed, round_index, kind, dtype)]


def draw_example(fuzz_seed: int, index: int, kind: str, dtype: str) -> dict | None:
    """Example `index` of `fuzz_seed` (its round is drawn once and cached); None where
    hypothesis ended the round early (it gives up on draws too large for its buffer)."""
    round_index, position = divmod(index, ROUND_SIZE)
    drawn = _round(fuzz_seed, round_index, kind, dtype)
    return json.loads(drawn[position]) if position < len(drawn) else None
