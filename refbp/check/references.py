"""Where check_case gets the references that depend on the case alone: the torch reference's
trace and the finite differences of a loss that is not the submitted answer's.

`References` computes them afresh at every check (the default). `ReferenceCache` keeps them
per case fingerprint (refbp.cases.fingerprint.case_hash: the SHA-256 of the case's explicit form,
so a case whose numbers differ in any entry never hits another's entry), in a bounded LRU.
It is only correct where the finite differences probe a loss that is the same for every
answer: `refbp verify` and the service, whose finite differences are of the torch
reference's loss (refbp.check.verify), never of the implementation under test.

Every hit returns a deep copy: a check may change what it is given (the escalation of
failing finite-difference entries writes the better method's values into the result), and
the cached original must stay as computed.
"""

from __future__ import annotations

import copy
import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from refbp.cases import Case
from refbp.oracle.fd import FiniteDifference, finite_difference

from ..loss_forms import LossForms
from ..trace import Trace
from . import split_fd
from .conventions import Admissible, admissible

if TYPE_CHECKING:  # it loads torch, which only the references themselves need
    from refbp.oracle.conventions import Convention

# A cache of the shipped suite's references is a few MB; these bound it for any suite.
CACHE_ENTRIES = 512
CACHE_BYTES = 256 << 20
T = TypeVar("T")


class References:
    """The references computed afresh for every check."""

    def torch_trace(self, case: Case, fingerprint: str) -> Trace:
        from refbp.oracle import torch_reference  # torch is slow to import, and only this needs it

        return torch_reference.trace(case)

    def variant_trace(self, case: Case, fingerprint: str, convention: Convention) -> Trace:
        """The torch reference under another choice where correct implementations may differ."""
        from refbp.oracle import torch_reference

        return torch_reference.trace(case, convention)

    def admissible(self, case: Case, fingerprint: str, mode: str = "any") -> Admissible:
        """The torch reference under every choice the case reaches (refbp.check.conventions)."""
        return admissible(
            case,
            self.torch_trace(case, fingerprint),
            lambda convention: self.variant_trace(case, fingerprint, convention),
            mode,
        )

    def finite_difference(self, case: Case, fingerprint: str, method: str, forms: LossForms) -> FiniteDifference:
        return finite_difference(method, forms, case.params)


FRESH = References()


@dataclasses.dataclass(frozen=True)
class SplitReferences(References):
    """For refbp's own forward over workers (`refbp run --jobs N`, refbp.check.suite): the
    entrywise methods' finite differences split over the workers (the `forms` given are
    refbp.perturbed's, which each worker builds again), the other methods computed here."""

    jobs: int = 1
    executor: object = None

    def finite_difference(self, case: Case, fingerprint: str, method: str, forms: LossForms) -> FiniteDifference:
        if method not in split_fd.SPLIT_METHODS:
            return super().finite_difference(case, fingerprint, method, forms)
        return split_fd.split_finite_difference(
            case, method, jobs=self.jobs, executor=self.executor, chunk=split_fd.DEFAULT_CHUNK
        )


class ReferenceCache(References):
    """References kept per (kind, case fingerprint, method): at most `entries` of them and
    `max_bytes` of arrays, the least recently used dropped first; safe across threads (two
    threads missing the same key both compute it, and the second one's copy is kept)."""

    def __init__(self, entries: int = CACHE_ENTRIES, max_bytes: int = CACHE_BYTES) -> None:
        self.entries, self.max_bytes = entries, max_bytes
        self._kept: OrderedDict[tuple[Any, ...], tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def torch_trace(self, case: Case, fingerprint: str) -> Trace:
        return self._kept_or_computed(
            ("torch", fingerprint), lambda: super(ReferenceCache, self).torch_trace(case, fingerprint)
        )

    def variant_trace(self, case: Case, fingerprint: str, convention: Convention) -> Trace:
        return self._kept_or_computed(
            ("torch", fingerprint, convention),
            lambda: super(ReferenceCache, self).variant_trace(case, fingerprint, convention),
        )

    def finite_difference(self, case: Case, fingerprint: str, method: str, forms: LossForms) -> FiniteDifference:
        return self._kept_or_computed(
            ("fd", fingerprint, method),
            lambda: super(ReferenceCache, self).finite_difference(case, fingerprint, method, forms),
        )

    def __len__(self) -> int:
        return len(self._kept)

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()
            self._bytes = 0

    def _kept_or_computed(self, key: tuple[Any, ...], compute: Callable[[], T]) -> T:
        with self._lock:
            found = self._kept.get(key)
            if found is not None:
                self._kept.move_to_end(key)
                self.hits += 1
                copied: T = _copied(found[0])
                return copied
            self.misses += 1
        value = compute()
        size = _array_bytes(value)
        if size <= self.max_bytes:
            kept = _copied(value)
            with self._lock:
                previous = self._kept.pop(key, None)
                self._bytes -= previous[1] if previous else 0
                self._kept[key] = (kept, size)
                self._bytes += size
                while len(self._kept) > self.entries or self._bytes > self.max_bytes:
                    _, (_, dropped) = self._kept.popitem(last=False)
                    self._bytes -= dropped
        return value


def _copied(value: Any) -> Any:
    """A deep copy of a Trace or a FiniteDifference: its dataclass, dicts, lists and arrays copied,
    the rest (numbers, strings, tuples) shared, being immutable (copy.deepcopy's generic walk costs
    more than the check it would serve)."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, dict):
        return {key: _copied(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copied(item) for item in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        duplicate = copy.copy(value)
        for name, item in vars(value).items():
            setattr(duplicate, name, _copied(item))
        return duplicate
    return value


def _array_bytes(value: object) -> int:
    """The bytes of the numpy arrays in a Trace or a FiniteDifference (what dominates its size)."""
    total = 0
    pending = list(vars(value).values())
    while pending:
        item = pending.pop()
        if isinstance(item, np.ndarray):
            total += item.nbytes
        elif isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, (list, tuple)):
            pending.extend(item)
    return total
