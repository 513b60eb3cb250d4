"""`refbp fuzz --jobs N` / `--executor dask://...`: the examples checked over refbp.parallel's
workers, in chunks of consecutive indices, their outcomes in index order.

The examples are drawn here, once (example i of seed S is a pure function of both:
refbp.fuzz.draw; a round of hypothesis draws costs as much wherever it runs, so workers that
each drew the rounds they check would repeat it), while the workers start; a chunk is plain
data (its first index, its drawn documents, the target), checked by a worker as `refbp fuzz`
checks in one process, so the outcomes, and so the report and the failures found, are those
of `--jobs 1`. Shrinking and saving stay in the caller.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..parallel import UnitFailed, iter_units, start_workers
from .draw import ROUND_SIZE, draw_example
from .unit import ExampleOutcome, Target, check_document, features

# Examples per unit of work: at most a quarter of a round; fewer for a small budget, so that
# there are at least CHUNKS_PER_WORKER chunks per worker to balance.
CHUNK = ROUND_SIZE // 4
CHUNKS_PER_WORKER = 4


@dataclass(frozen=True)
class FuzzChunk:
    start: int
    documents: tuple   # examples start, start + 1, ...: a drawn document, or None (nothing drawn there)
    target: Target


def check_chunk(chunk: FuzzChunk) -> list[ExampleOutcome]:
    """The outcomes of the chunk's examples, in a worker (module-level: pickled by name)."""
    return [ExampleOutcome(index, None) if document is None else check_document(index, document, chunk.target)
            for index, document in enumerate(chunk.documents, start=chunk.start)]


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
        drawn = [draw_example(options.seed, index, options.kind, options.dtype) for index in range(first, first + wave)]
        chunks = [FuzzChunk(start, tuple(drawn[start - first:start - first + chunk]), target)
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
    return [ExampleOutcome(index, None) if document is None else
            ExampleOutcome(index, document, passed=False, failure=f"crash: {reason}", features=features(document))
            for index, document in enumerate(chunk.documents, start=chunk.start)]
