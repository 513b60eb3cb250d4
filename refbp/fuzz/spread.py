"""`refbp fuzz --jobs N` / `--executor dask://...`: the examples drawn and checked over
refbp.parallel's workers, their outcomes in index order.

Example i of seed S is position i % ROUND_SIZE of hypothesis round i // ROUND_SIZE
(refbp.fuzz.draw), a pure function of both, and a round is drawn whole wherever any of its
examples is needed. Drawing is a large part of the work (a round is about 1 s of CPU,
against 0.5 to 2 s to check its examples, which vary far more), so a wave of the budget runs
in two steps: its rounds drawn in parallel (one unit per round; the first round of the first
wave drawn by this process while the local workers start, when it would otherwise wait),
then its examples checked in chunks of consecutive indices, small enough to share the
checking evenly, the dearest chunks first. Each chunk is checked as `refbp fuzz` checks in one process, so the
outcomes, and so the report and the failures found, are those of `--jobs 1`. Waves bound
the documents held here at once. Shrinking and saving stay in the caller. With `--impl` (a
target with a timeout) the examples are checked one per unit in guarded workers
(refbp.parallel.guarded): one that exits, hangs or kills its worker fails alone. Ctrl-C
propagates, with every outcome known by then given to `on_outcome` first (those checked ahead
of their turn included, in index order, so the indices may have gaps).
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, replace

import numpy as np

from ..parallel import UnitFailed, iter_units, map_units, start_workers
from .draw import ROUND_SIZE, draw_example
from .unit import ExampleOutcome, Target, check_document, features

# Examples per chunk of checking: at most a quarter of a round; fewer for a small budget, so
# that there are at least CHUNKS_PER_WORKER chunks per worker to balance.
CHUNK = ROUND_SIZE // 4
CHUNKS_PER_WORKER = 8
# Rounds per worker in a wave of an `--examples` budget (a `--minutes` one: 2).
ROUNDS_PER_WORKER = 5


@dataclass(frozen=True)
class FuzzRound:
    seed: int
    kind: str  # or a Capabilities, as FuzzUnit.kind
    dtype: str
    start: int  # the first example index drawn (a round's first, or where the budget resumes)
    stop: int  # one past the last: at most the round's end


@dataclass(frozen=True)
class FuzzChunk:
    start: int
    documents: tuple  # examples start, start + 1, ...: a drawn document, or None (nothing drawn there)
    target: Target


def draw_part(unit: FuzzRound) -> list:
    """The documents of examples start..stop-1 (None where hypothesis drew nothing), in a worker."""
    return [draw_example(unit.seed, index, unit.kind, unit.dtype) for index in range(unit.start, unit.stop)]


def check_chunk(chunk: FuzzChunk) -> list[ExampleOutcome]:
    """The outcomes of the chunk's examples, in a worker (module-level: pickled by name)."""
    return [
        ExampleOutcome(index, None) if document is None else check_document(index, document, chunk.target)
        for index, document in enumerate(chunk.documents, start=chunk.start)
    ]


def document_cost(document: dict) -> float:
    """An example's checking work, roughly, to start the dearest chunks first (as refbp.check.units's
    case_cost): finite differences evaluate the forward once or more per parameter entry."""
    parameters = sum(int(np.size(values)) for values in document["params"].values())
    steps = 1 + int((document.get("train") or {}).get("steps", 0))
    return float(parameters) * (parameters + int(np.size(document["inputs"]))) * steps


def rounds(options, first: int, stop: int) -> list[FuzzRound]:
    """Units covering the examples first..stop-1, one per round they touch."""
    edges = sorted({first, stop, *range((first // ROUND_SIZE + 1) * ROUND_SIZE, stop, ROUND_SIZE)})
    return [FuzzRound(options.seed, options.drawn, options.dtype, a, b) for a, b in itertools.pairwise(edges)]


def check_spread(options, target: Target, started: float, on_outcome=None) -> list[ExampleOutcome]:
    """Every outcome of the budget of `options` (refbp.fuzz.FuzzOptions: its examples, or its
    minutes: then waves of two rounds per worker until the time is spent), in index order."""
    jobs, executor = options.jobs, options.executor
    guarded = bool(target.impl) and target.timeout is not None and executor is None
    start_workers(jobs, executor, preload=(__name__,), guarded=guarded)  # hypothesis and fuzz's drawing too
    inside = replace(target, timeout=None)  # how a worker checks: in its own process
    workers = jobs if executor is None else 2  # a cluster's size is its own business: reckoned as 2
    per_wave = ROUND_SIZE * workers * (ROUNDS_PER_WORKER if options.examples is not None else 2)
    outcomes: list[ExampleOutcome] = []
    while options.examples is None or len(outcomes) < options.examples:
        if options.minutes is not None and time.perf_counter() - started >= 60.0 * options.minutes:
            break
        first = len(outcomes)
        stop = first + per_wave if options.examples is None else min(options.examples, first + per_wave)
        documents = _drawn(rounds(options, first, stop), jobs, executor, here_first=first == 0 and executor is None)
        size = 1 if guarded else max(1, min(CHUNK, -(-(stop - first) // (CHUNKS_PER_WORKER * workers))))
        chunks = [
            FuzzChunk(start, tuple(documents[start - first : start - first + size]), inside)
            for start in range(first, stop, size)
        ]
        costs = [sum(document_cost(d) for d in chunk.documents if d is not None) for chunk in chunks]

        def take(index, result, chunks=chunks):  # this wave's chunks (B023)
            for outcome in _crashed(chunks[index], result.reason) if isinstance(result, UnitFailed) else result:
                outcomes.append(outcome)
                if on_outcome is not None:
                    on_outcome(outcome)

        try:
            for index, result in iter_units(
                check_chunk,
                chunks,
                jobs=jobs,
                executor=executor,
                costs=costs,
                timeout=target.timeout if guarded else None,
            ):
                take(index, result)
        except KeyboardInterrupt as exc:  # Ctrl-C: the chunks checked ahead of their turn are kept too
            for index, result in sorted(getattr(exc, "held", {}).items()):
                take(index, result)
            raise
    return outcomes


def _drawn(units: list[FuzzRound], jobs: int, executor, here_first: bool) -> list:
    """The documents of every unit, in order: drawn by the workers (the first unit by this
    process when `here_first`: the local workers are still starting); a unit whose worker
    died is drawn here."""
    documents = draw_part(units[0]) if here_first else []
    rest = units[1:] if here_first else units
    for unit, result in zip(rest, map_units(draw_part, rest, jobs=jobs, executor=executor)):
        documents.extend(draw_part(unit) if isinstance(result, UnitFailed) else result)
    return documents


def _crashed(chunk: FuzzChunk, reason: str) -> list[ExampleOutcome]:
    """The examples of a chunk whose worker died twice: each a failure saying so."""
    return [
        ExampleOutcome(index, None)
        if document is None
        else ExampleOutcome(index, document, passed=False, failure=f"crash: {reason}", features=features(document))
        for index, document in enumerate(chunk.documents, start=chunk.start)
    ]
