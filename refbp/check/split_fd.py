"""Finite differences of one big network split across workers, by tensor and by chunk of entries.

`split_finite_difference(case, method, jobs=N | executor=...)` gives the same FiniteDifference
as `refbp.oracle.fd.finite_difference(method, refbp.perturbed.loss_forms(case), case.params)`
(refbp's own forward, the `finite-difference` reference of `refbp run`), with each share
(one tensor's entries start..stop) computed by `refbp.oracle.fd` in a worker: the share is the
case's document, its path and the entries, and the worker rebuilds the case and its fast
forms itself. Per entry the values are those of the whole computation (each perturbed
network is evaluated by itself); only `evaluations` differs, since every share evaluates
the loss at the case's parameters and checks its batched form at two entries again.

Only the entrywise methods split (central, richardson, complex); directional and sampled
take a few evaluations in all and run where they are asked.

`refbp run/check --jobs N` (or `--executor`) checks a case of refbp itself with at least
SPLIT_FROM parameter entries in its own process, its finite differences split over the
workers by refbp.check.references.SplitReferences (refbp.check.suite), before the other cases.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from refbp.cases import Case, parse_case
from refbp.cases.fingerprint import case_hash
from refbp.oracle.fd import FiniteDifference, finite_difference

from ..loss_forms import LossForms
from ..nn.backend import serial_blas
from ..parallel import map_units
from ..parallel.units import UnitFailed
from ..perturbed import loss_forms

SPLIT_METHODS = ("central", "richardson", "complex")
# Entries per share: enough that a share's fixed cost (rebuilding the case, the loss at the
# case's parameters, checking the batched form at two entries) is small beside its work.
DEFAULT_CHUNK = 16384
# Parameter entries from which `refbp run --jobs N` splits a case's finite differences: two shares.
SPLIT_FROM = 2 * DEFAULT_CHUNK


@dataclass(frozen=True)
class FdShare:
    document: dict[str, Any]
    path: str
    key: str  # the case's hash: a worker rebuilds the case once for all its shares
    method: str
    tensor: str
    start: int
    stop: int


@dataclass
class FdPart:
    """A share's values: entries start..stop of `tensor` (flat), and the kinks among them."""

    tensor: str
    start: int
    grads: np.ndarray
    steps: np.ndarray
    errors: np.ndarray
    kinks: dict[int, str] = field(default_factory=dict)
    evaluations: int = 0
    notes: list[str] = field(default_factory=list)


def fd_shares(case: Case, method: str, chunk: int = DEFAULT_CHUNK) -> list[FdShare]:
    """Every tensor's entries in chunks of at most `chunk`, tensor by tensor in the case's order."""
    document, path, key = case.document, str(case.path) if case.path is not None else "", case_hash(case)
    return [
        FdShare(document, path, key, method, name, start, min(start + chunk, int(np.size(tensor))))
        for name, tensor in case.params.items()
        for start in range(0, int(np.size(tensor)), chunk)
    ]


def evaluate_share(share: FdShare) -> FdPart:
    """One share, in a worker (module-level, so it is pickled by name)."""
    case, forms = _case_and_forms(share.key, share.document, share.path)
    with serial_blas(np):  # as refbp.check runs its finite differences (many medium products)
        result = finite_difference(
            share.method, forms, case.params, entries={share.tensor: np.arange(share.start, share.stop)}
        )
    cut = slice(share.start, share.stop)
    shape = np.shape(case.params[share.tensor])
    kinks = {
        int(np.ravel_multi_index(index, shape)): unit for index, unit in result.kinks.get(share.tensor, {}).items()
    }
    return FdPart(
        share.tensor,
        share.start,
        result.grads[share.tensor].reshape(-1)[cut],
        result.steps[share.tensor].reshape(-1)[cut],
        result.errors[share.tensor].reshape(-1)[cut],
        kinks,
        result.evaluations,
        list(result.notes),
    )


def split_finite_difference(
    case: Case, method: str, jobs: int = 1, executor: Any = None, chunk: int = DEFAULT_CHUNK
) -> FiniteDifference:
    """refbp's finite differences of `case`, split into shares of `chunk` entries run as
    refbp.parallel.map_units runs them (`jobs` local processes or a Dask `executor`).
    RuntimeError naming the share when one could not be computed (its worker died twice)."""
    if method not in SPLIT_METHODS:
        raise ValueError(f"split finite differences: {method!r} does not split (only {', '.join(SPLIT_METHODS)})")
    shares = fd_shares(case, method, chunk)
    parts = map_units(evaluate_share, shares, jobs=jobs, executor=executor)
    return merge_parts(case, method, shares, parts)


def splits(case: Case) -> bool:
    """Whether a run over workers splits this case's finite differences (a big network)."""
    return sum(int(np.size(tensor)) for tensor in case.params.values()) >= SPLIT_FROM


def merge_parts(case: Case, method: str, shares: list[FdShare], parts: list[FdPart | UnitFailed]) -> FiniteDifference:
    result = FiniteDifference(method=method)
    flat = {
        name: {key: np.full(int(np.size(tensor)), np.nan) for key in ("grads", "steps", "errors")}
        for name, tensor in case.params.items()
    }
    for share, part in zip(shares, parts):
        if isinstance(part, UnitFailed):
            raise RuntimeError(
                f"{case.label()}: finite differences of {share.tensor} entries "
                f"{share.start}..{share.stop - 1}: {part.reason}"
            )
        cut = slice(part.start, part.start + part.grads.size)
        for key in ("grads", "steps", "errors"):
            flat[part.tensor][key][cut] = getattr(part, key)
        shape = np.shape(case.params[part.tensor])
        for index, unit in part.kinks.items():
            nd = tuple(int(i) for i in np.unravel_index(index, shape))
            result.kinks.setdefault(part.tensor, {})[nd] = unit
        result.evaluations += part.evaluations
        result.notes += [note for note in part.notes if note not in result.notes]
    for name, tensor in case.params.items():
        for key in ("grads", "steps", "errors"):
            getattr(result, key)[name] = flat[name][key].reshape(np.shape(tensor))
    return result


_LAST_CASE: dict[str, tuple[Case, LossForms]] = {}


def _case_and_forms(key: str, document: dict[str, Any], path: str) -> tuple[Case, LossForms]:
    """The case and its fast forms, rebuilt once per worker for consecutive shares of one case."""
    if key not in _LAST_CASE:
        _LAST_CASE.clear()
        case = parse_case(document, path or None)
        _LAST_CASE[key] = case, loss_forms(case)
    return _LAST_CASE[key]
