"""Which entries of an answer random directions vouch for, and which must be judged one by one:
the search behind the own-forward-fd rows (refbp.check.own_forward).

First a few random directions over every entry at once (refbp.oracle.fd.directions). Where one does
not pass, the entries are narrowed down: one direction per tensor, then per half of a tensor,
bisecting, until each part passes or is small enough (LEAF entries) to be judged entry by
entry, as finite differences always did. Both halves of a part failing means the wrong entries
are spread: the part is judged entry by entry at once, and so is every part of a tensor whose
narrowing has cost more evaluations than judging it entry by entry would.

A direction passes when |<answer, u> - D| + e <= atol, D the derivative of the loss along u and
e its estimated error: a wrong entry moves <answer, u> by its whole error (u is +-1 on the
part), so a part passes only where none of its entries is off by more than atol, the least an
entry's own tolerance can be. It is undecided, and the part split further, where no step clears
the probe's kinks, where e > atol / 2, or where it fails but its one-sided derivatives disagree
(refbp.oracle.fd.one_sided: a non-smooth point within its stencil, the same points: no evaluation more).
Every point of one level of the search is evaluated in one call of the implementation's
`loss_batch` where it has one (refbp.check.own_loss).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import count
from typing import Any

import numpy as np
import numpy.random

from refbp.cases import Tolerance
from refbp.oracle.fd import directions as along
from refbp.oracle.fd.one_sided import ROUNDING_FACTOR, disagree
from refbp.oracle.fd.steps import loss_rounding

from .own_loss import OwnLoss

PASS, FAIL, UNDECIDED = "pass", "fail", "undecided"
DIRECTIONS = 2  # random directions over every entry at once, before any narrowing
LEAF = 8  # a part of at most this many entries is judged entry by entry
# Directions tried per tensor at most (one per part): past it, its undecided parts are judged
# entry by entry (kinks close to every step along a wide part would split it down to leaves).
MAX_TRIALS = 48


@dataclass
class Part:
    """Entries ({tensor: flat indices}) tried together; `tensor` None while it spans tensors;
    `pair` names the split it is one half of (siblings share it; -1 for none)."""

    entries: dict[str, np.ndarray]
    tensor: str | None = None
    pair: int = -1
    directions: int = 1

    @property
    def size(self) -> int:
        return sum(int(v.size) for v in self.entries.values())


@dataclass
class Vouched:
    """A tensor's entries that passed along directions, and the worst of those directions."""

    indices: list[np.ndarray] = field(default_factory=list)
    excess: float = -1.0  # (|<answer, u> - D| + e) / atol of the worst direction
    abs_err: float = 0.0
    rel_err: float = 0.0
    actual: float = float("nan")  # <answer, u>
    reference: float = float("nan")  # D
    step: float = float("nan")
    error: float = 0.0
    directions: int = 0


@dataclass
class Narrowed:
    vouched: dict[str, Vouched] = field(default_factory=dict)
    leaves: dict[str, np.ndarray] = field(default_factory=dict)  # flat indices, judged one by one
    evaluations: int = 0
    levels: int = 0


@dataclass
class _Trial:
    part: Part
    u: dict[str, np.ndarray]
    h: float | None
    start: int = -1  # where its points begin in the level's batch
    outcome: str = UNDECIDED
    along: along.Along = field(default_factory=along.Along)
    answer: float = float("nan")


def narrow(
    domain: dict[str, np.ndarray],
    answer: dict[str, np.ndarray],
    params: dict[str, np.ndarray],
    own: OwnLoss,
    nets: along.Nets | None,
    base_nets: dict[str, Any],
    tolerance: Tolerance,
    seed: int = 0,
) -> Narrowed:
    """Search `domain` ({tensor: flat indices}); `answer` the implementation's gradients (float64),
    `own` its loss (refbp.check.own_loss.OwnLoss), `nets(points)` the probe's kinked units (None: a
    forward without kinks, and `base_nets` empty)."""
    nets = nets if nets is not None else _no_units
    result, rng, pairs = Narrowed(), np.random.default_rng(seed), count()
    base = float(own(params))
    result.evaluations += 1
    sizes = {name: int(indices.size) for name, indices in domain.items() if indices.size}
    spent, tried = dict.fromkeys(sizes, 0), dict.fromkeys(sizes, 0)
    level = [Part({n: domain[n] for n in sizes}, directions=DIRECTIONS)] if sizes else []
    while level:
        result.levels += 1
        trials = [
            _Trial(part, u, along.clear_step(params, u, part.size, nets, base_nets, tolerance.atol, base))
            for part in level
            for u in (along.rademacher(params, part.entries, rng) for _ in range(part.directions))
        ]
        points: list[dict[str, np.ndarray]] = []
        for trial in trials:
            if trial.h is None:
                continue
            stencil = along.stencil(params, trial.u, trial.h)
            if along.crossing(stencil, nets, base_nets) is not None:
                trial.h = None
                continue
            trial.start = len(points)
            points += stencil
        values = own.many(points)
        result.evaluations += len(points)
        for trial in trials:
            if trial.part.tensor is not None:
                tried[trial.part.tensor] += 1
            if trial.start >= 0:
                _judge(trial, values[trial.start : trial.start + len(along.OFFSETS)], base, answer, tolerance)
                if trial.part.tensor is not None:
                    spent[trial.part.tensor] += len(along.OFFSETS)
        level = _next_level(level, trials, result, spent, tried, sizes, pairs)
    return result


def _no_units(points: list[dict[str, np.ndarray]]) -> list[dict[str, Any]]:
    return [{} for _ in points]


def _judge(trial: _Trial, values: np.ndarray, base: float, answer: dict[str, np.ndarray], tolerance: Tolerance) -> None:
    h = trial.h
    if h is None:  # no step cleared its kinks: never evaluated, left undecided
        return
    derivative, error = along.derivative(values, h)
    trial.along = along.Along(derivative, error, h)
    trial.answer = float(
        sum(
            np.sum(answer[n][trial.part.entries[n]] * trial.u[n].reshape(-1)[trial.part.entries[n]])
            for n in trial.part.entries
        )
    )
    atol = tolerance.atol
    if not (np.isfinite(derivative) and np.isfinite(error) and np.isfinite(trial.answer)):
        trial.outcome = FAIL
    elif error > atol / 2.0:
        trial.outcome = UNDECIDED
    elif abs(trial.answer - derivative) + error <= atol:
        trial.outcome = PASS
    elif _blind(values, base, h, tolerance):
        trial.outcome = UNDECIDED
    else:
        trial.outcome = FAIL


def _blind(values: np.ndarray, base: float, h: float, tolerance: Tolerance) -> bool:
    """Whether the one-sided derivatives from the stencil's points at +-2h and +-4h disagree
    (refbp.oracle.fd.one_sided, whose span is these points)."""
    f = dict(zip(along.OFFSETS, values))
    step = 2.0 * h
    right = 2.0 * (f[2.0] - base) / step - (f[4.0] - base) / (2 * step)
    left = 2.0 * (base - f[-2.0]) / step - (base - f[-4.0]) / (2 * step)
    return disagree(right, left, ROUNDING_FACTOR * loss_rounding(base) / step, tolerance.atol, tolerance.rtol)


def _next_level(
    level: list[Part],
    trials: list[_Trial],
    result: Narrowed,
    spent: dict[str, int],
    tried: dict[str, int],
    sizes: dict[str, int],
    pairs: Iterator[int],
) -> list[Part]:
    outcomes: dict[int, str] = {}
    for trial in trials:
        key = id(trial.part)
        previous = outcomes.get(key, PASS)
        outcomes[key] = (
            FAIL
            if FAIL in (previous, trial.outcome)
            else (UNDECIDED if UNDECIDED in (previous, trial.outcome) else PASS)
        )
    failed_pairs: dict[int, int] = {}  # split -> its halves that failed
    for part in level:
        if part.pair >= 0 and outcomes[id(part)] == FAIL:
            failed_pairs[part.pair] = failed_pairs.get(part.pair, 0) + 1
    following: list[Part] = []
    for part in level:
        outcome = outcomes[id(part)]
        if outcome == PASS:
            _vouch(result, part, [t for t in trials if t.part is part])
            continue
        spread = part.pair >= 0 and failed_pairs.get(part.pair, 0) == 2 and outcome == FAIL
        costly = part.tensor is not None and (
            spent[part.tensor] > 2 * sizes[part.tensor] or tried[part.tensor] >= MAX_TRIALS
        )
        if part.size <= LEAF or spread or costly:
            for name, indices in part.entries.items():
                result.leaves[name] = np.union1d(result.leaves.get(name, np.zeros(0, dtype=np.int64)), indices)
            continue
        following += _split(part, pairs)
    return following


def _split(part: Part, pairs: Iterator[int]) -> list[Part]:
    if part.tensor is None:  # to tensors
        return [Part({name: indices}, tensor=name) for name, indices in part.entries.items() if indices.size]
    ((name, indices),) = part.entries.items()
    middle, pair = indices.size // 2, next(pairs)
    return [Part({name: indices[:middle]}, name, pair), Part({name: indices[middle:]}, name, pair)]


def _vouch(result: Narrowed, part: Part, trials: list[_Trial]) -> None:
    worst = max(trials, key=lambda t: abs(t.answer - t.along.derivative) + t.along.error)
    gap = abs(worst.answer - worst.along.derivative)
    for name, indices in part.entries.items():
        vouched = result.vouched.setdefault(name, Vouched())
        vouched.indices.append(indices)
        vouched.directions += len(trials)
        excess = gap + worst.along.error
        if excess > vouched.excess:
            vouched.excess, vouched.abs_err, vouched.error = excess, gap, worst.along.error
            vouched.rel_err = gap / max(abs(worst.answer), abs(worst.along.derivative), np.finfo(float).tiny)
            vouched.actual, vouched.reference, vouched.step = worst.answer, worst.along.derivative, worst.along.step
