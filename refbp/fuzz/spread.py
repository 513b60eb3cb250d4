"""`refbp fuzz --jobs N` / `--executor dask://...`: the examples checked over refbp.parallel's
workers, in chunks of consecutive indices, their outcomes in index order.

A chunk is plain data (the seed, the indices, the kind, the dtype, the target): a worker
draws its examples itself (example i of seed S is a pure function of both: refbp.fuzz.draw)
and checks them as `refbp fuzz` does in one process, so the outcomes, and so the report and
the failures found, are those of `--jobs 1`. Shrinking and saving stay in the caller.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..parallel import UnitFailed, iter_units, start_workers
from .draw import ROUND_SIZE, draw_example
from .unit import ExampleOutcome, FuzzUnit, Target, check_unit, features

# Examples per unit of work: at most a quarter of a round, so that a round (drawn once per
# process that checks any of it) is drawn by few workers; fewer for a small budget, so that
# there are at least CHUNKS_PER_WORKER chunks per worker to balance.
CHUNK = ROUND_SIZE // 4
CHUNKS_PER_WORKER = 4


@dataclass(frozen=True)
class FuzzChunk:
    seed: int
    start: int
    stop: int
    kind: str
    dtype: str
    target: Target


def check_chunk(chunk: FuzzChunk) -> list[ExampleOutcome]:
    """The outcomes of examples start..stop-1, in a worker (module-level: pickled by name)."""
    return [check_unit(FuzzUnit(chunk.seed, index, chunk.kind, chunk.dtype), chunk.target)
            for index in range(chunk.start, chunk.stop)]


def check_spread(options, target: Target, started: float, on_outcome=None) -> list[ExampleOutcome]:
    """Every outcome of the budget of `options` (refbp.fuzz.FuzzOptions: its examples, or its
    minutes: then waves of two chunks per worker until the time is spent), in index order."""
    jobs, executor = options.jobs, options.executor
    start_workers(jobs, executor, preload=(__name__,))  # hypothesis and fuzz's drawing too
    wave = options.examples if options.examples is not None else 2 * CHUNK * max(jobs, 2)
    # A cluster's size is its own business: reckoned as 2 workers.
    chunk = max(1, min(CHUNK, -(-wave // (CHUNKS_PER_WORKER * (jobs if executor is None else 2)))))
    outcomes: list[ExampleOutcome] = []
    while options.examples is None or len(outcomes) < options.examples:
        if options.minutes is not None and time.perf_counter() - started >= 60.0 * options.minutes:
            break
        first = len(outcomes)
        chunks = [FuzzChunk(options.seed, start, min(start + chunk, first + wave), options.kind, options.dtype, target)
                  for start in range(first, first + wave, chunk)]
        for index, result in iter_units(check_chunk, chunks, jobs=jobs, executor=executor):
            for outcome in (_crashed(chunks[index], result.reason) if isinstance(result, UnitFailed) else result):
                outcomes.append(outcome)
                if on_outcome is not None:
                    on_outcome(outcome)
        if options.examples is not None:
            break
    return outcomes


def _crashed(chunk: FuzzChunk, reason: str) -> list[ExampleOutcome]:
    """The examples of a chunk whose worker died twice: each a failure saying so."""
    outcomes = []
    for index in range(chunk.start, chunk.stop):
        document = draw_example(chunk.seed, index, chunk.kind, chunk.dtype)
        outcomes.append(ExampleOutcome(index, None) if document is None else
                        ExampleOutcome(index, document, passed=False, failure=f"crash: {reason}",
                                       features=features(document)))
    return outcomes
