"""The implementation's own loss as finite differences of its forward call it: one point at a
time through its `loss`, or many points in one call through its optional `loss_batch`
(docs/formats.md section 8), in float64, every call on fresh copies."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from refbp.cases import Case
from refbp.oracle.fd.agreement import agrees

from .adapter import Declined, case_document


class OwnLoss:
    """`own(params) -> float` (the implementation's `loss`) and `own.many(points) -> losses`
    (its `loss_batch` where it has one and agrees with `loss` at the first and last point of its
    first call, else a loop); `calls` counts
    the points evaluated, `notes` says when `loss_batch` was set aside."""

    def __init__(self, implementation: Any, document: dict[str, Any]) -> None:
        self.implementation = implementation
        self.inputs, self.targets = document["inputs"], document["targets"]
        batch = getattr(implementation, "loss_batch", None)
        self.batch: Callable[..., Any] | None = batch if callable(batch) else None
        self.trusted = False  # loss_batch compared with loss at a point of its first call
        self.calls = 0
        self.batched_calls = 0
        self.notes: list[str] = []

    def __call__(self, params: Mapping[str, Any]) -> float:
        self.calls += 1
        with np.errstate(all="ignore"):  # a NaN or an overflow is judged, not printed (as adapter.answer)
            return float(self.implementation.loss(_fresh(params), self.inputs.copy(), self.targets.copy()))

    def many(self, points: list[dict[str, Any]]) -> np.ndarray:
        """The loss at every point of `points` (a NaN where the implementation's value is not a number)."""
        if not points:
            return np.zeros(0)
        if self.batch is not None:
            values = self._batched(points)
            if values is not None:
                return values
        return np.array([self(point) for point in points], dtype=np.float64)

    def _batched(self, points: list[dict[str, Any]]) -> np.ndarray | None:
        batch = self.batch
        if batch is None:
            return None
        try:
            with np.errstate(all="ignore"):
                values = np.asarray(
                    batch([_fresh(p) for p in points], self.inputs.copy(), self.targets.copy()), dtype=np.float64
                ).reshape(-1)
        except Exception as exc:  # optional: a loss_batch that raises or answers garbage is set aside, not a crash
            self._set_aside(f"loss_batch failed ({type(exc).__name__}: {exc})")
            return None
        if values.shape != (len(points),):
            self._set_aside(f"loss_batch gave {values.size} losses for {len(points)} parameter sets")
            return None
        self.calls += len(points)
        self.batched_calls += 1
        if not self.trusted:  # its first and last point against loss (a batch that ignores its sets fails)
            for s in sorted({0, len(points) - 1}):
                plain = self(points[s])
                if not agrees(plain, values[s], plain, 0.0):
                    self._set_aside(f"loss_batch disagreed with loss ({values[s]:.17g} vs {plain:.17g})")
                    return None
            self.trusted = True
        return values

    def _set_aside(self, why: str) -> None:
        self.notes.append(f"{why}: the implementation's loss was called once per point instead")
        self.batch = None


def own_loss(factory: Callable[[dict[str, Any]], Any], case: Case) -> OwnLoss:
    """The implementation made for `case` in float64 (its own copy of the document), as an OwnLoss."""
    document = case_document(case, "float64")
    implementation = factory(document)
    if implementation is None:
        raise Declined(case.id)
    return OwnLoss(implementation, document)


def _fresh(params: Mapping[str, Any]) -> dict[str, np.ndarray]:
    return {name: np.array(value, dtype=np.float64) for name, value in params.items()}
