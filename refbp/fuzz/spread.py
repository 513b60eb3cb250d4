"""`refbp fuzz --jobs N` / `--executor dask://...`: the examples checked over refbp.parallel's
workers, a hypothesis round at a time, their outcomes in index order.

A unit is a round (refbp.fuzz.draw: example i of seed S is position i % ROUND_SIZE of round
i // ROUND_SIZE, a pure function of both), or the part of the last round that the budget
reaches: the worker draws the round and checks its examples as `refbp fuzz` checks in one
process, so the outcomes, and so the report and the failures found, are those of `--jobs 1`.
Drawing is done where the round is checked because it is a large part of the work (a round
of hypothesis draws is about 0.9 s of CPU, against 1.3 s to check its examples), and a
whole round per unit because a round is drawn whole wherever any of its examples is needed.
Shrinking and saving stay in the caller.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..parallel import UnitFailed, iter_units, start_workers
from .draw import ROUND_SIZE, draw_example
from .unit import ExampleOutcome, FuzzUnit, Target, check_unit, features


@dataclass(frozen=True)
class FuzzRound:
    seed: int
    kind: str
    dtype: str
    start: int      # the first example index checked (a round's first, or where the budget resumes)
    stop: int       # one past the last: at most the round's end
    target: Target


def check_round(unit: FuzzRound) -> list[ExampleOutcome]:
    """The outcomes of the round's examples start..stop-1, in a worker (module-level: pickled by name)."""
    return [check_unit(FuzzUnit(unit.seed, index, unit.kind, unit.dtype), unit.target)
            for index in range(unit.start, unit.stop)]


def rounds(options, target: Target, first: int, stop: int) -> list[FuzzRound]:
    """Units covering the examples first..stop-1, one per round they touch."""
    edges = sorted({first, stop, *range((first // ROUND_SIZE + 1) * ROUND_SIZE, stop, ROUND_SIZE)})
    return [FuzzRound(options.seed, options.kind, options.dtype, a, b, target) for a, b in zip(edges, edges[1:])]


def check_spread(options, target: Target, started: float, on_outcome=None) -> list[ExampleOutcome]:
    """Every outcome of the budget of `options` (refbp.fuzz.FuzzOptions: its examples, or its
    minutes: then waves of two rounds per worker until the time is spent), in index order."""
    jobs, executor = options.jobs, options.executor
    start_workers(jobs, executor, preload=(__name__,))  # hypothesis and fuzz's drawing too
    # A cluster's size is its own business: reckoned as 2 workers.
    wave = options.examples if options.examples is not None else 2 * ROUND_SIZE * (jobs if executor is None else 2)
    outcomes: list[ExampleOutcome] = []
    while options.examples is None or len(outcomes) < options.examples:
        if options.minutes is not None and time.perf_counter() - started >= 60.0 * options.minutes:
            break
        units = rounds(options, target, len(outcomes), len(outcomes) + wave)
        for index, result in iter_units(check_round, units, jobs=jobs, executor=executor):
            for outcome in (_crashed(units[index], result.reason) if isinstance(result, UnitFailed) else result):
                outcomes.append(outcome)
                if on_outcome is not None:
                    on_outcome(outcome)
        if options.examples is not None:
            break
    return outcomes


def _crashed(unit: FuzzRound, reason: str) -> list[ExampleOutcome]:
    """The examples of a round whose worker died twice: each a failure saying so (drawn here to name them)."""
    documents = [draw_example(unit.seed, index, unit.kind, unit.dtype) for index in range(unit.start, unit.stop)]
    return [ExampleOutcome(index, None) if document is None else
            ExampleOutcome(index, document, passed=False, failure=f"crash: {reason}", features=features(document))
            for index, document in enumerate(documents, start=unit.start)]
