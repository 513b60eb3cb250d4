"""Evaluating the loss at many single-entry perturbations of one tensor: batched when the
implementation offers a batched form (refbp.loss_forms.PerturbedForm), else one call per point."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

from refbp.loss_forms import NetsOfRows, PerturbedForm, PerturbedLosses

from .agreement import agrees, sampled_points
from .kinks import crossed_unit, crossed_units_stacked

# Perturbed networks per batched call: bounds memory to CHUNK x batch x width floats per layer.
CHUNK = 2048


class Evaluator:
    """`loss(params)`, optionally `probe(params)` (pre-activations of kinked units) and a
    batched form `perturbed` (many single-entry perturbations of `params` in one call).
    `dtype` complex evaluates at complex points (the complex step).
    `perturbed.chunks` {name: n}, where given, bounds the perturbations per call (else CHUNK);
    `perturbed.chunks_itself` says that without kinks it takes a whole tensor in one call
    and bounds its memory itself (with kinks the nets it returns grow with the call)."""

    def __init__(
        self,
        loss: Callable[[dict[str, NDArray[Any]]], Any],
        params: dict[str, NDArray[Any]],
        probe: Callable[[dict[str, NDArray[Any]]], dict[str, Any]] | None = None,
        perturbed: PerturbedForm | None = None,
        chunk: int = CHUNK,
        dtype: DTypeLike = np.float64,
    ) -> None:
        self.loss, self.perturbed, self.dtype = loss, perturbed, dtype
        self.chunk = chunk
        self.chunks: Mapping[str, int] = perturbed.chunks if perturbed is not None else {}
        # A batched form takes real parameters and complex deltas; the loop needs complex parameters.
        self.params = {name: np.array(value, dtype=np.float64) for name, value in params.items()}
        self.loop_params = {name: np.array(value, dtype=dtype) for name, value in params.items()}
        self.base_loss: float = loss(self.loop_params).real
        self.base_units: dict[str, Any] = probe(self.loop_params) if probe is not None else {}
        self.probe = probe if self.base_units else None
        self.evaluations = 1
        self.notes: list[str] = []
        self._verified: dict[str, bool] = {}
        # The batched form at these parameters (never modified: the loop works on loop_params).
        self.batched: PerturbedLosses | None = perturbed.at(self.params, self.chunks) if perturbed is not None else None

    def _batched_agrees(
        self,
        name: str,
        indices: NDArray[Any],
        deltas: NDArray[Any],
        values: NDArray[Any],
        chunk: int,
        points: int,
        chunk_paths: Sequence[tuple[int, int, str]],
    ) -> bool:
        """The batched form is another code path than `loss`: before trusting its `values` (flat,
        one per perturbation) for a tensor, compare them with `loss` at the points
        refbp.oracle.fd.agreement samples (every chunk, every path, every non-finite value). A batched
        form that differs (a bug in it, or a forward it does not reproduce) is abandoned for the
        plain loop, with a note."""
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            s = int(bad[0])
            self.notes.append(
                f"the batched evaluation gave a non-finite loss ({values[s]}) at {name} entry "
                f"{int(indices[s])} moved by {deltas[s]:.3g} ({bad.size} such points): used the plain loop"
            )
            return False
        flat = self.loop_params[name].reshape(-1)
        picks = sampled_points(values, self.base_loss, chunk, points, chunk_paths)
        for s in picks:
            i, delta = indices[s], deltas[s]
            original = flat[i]
            flat[i] = original + delta
            plain = self.loss(self.loop_params)
            flat[i] = original
            if not agrees(plain, values[s], self.base_loss, delta):
                self.notes.append(
                    f"the batched evaluation disagreed with the plain loss at {name} entry {int(i)} "
                    f"moved by {delta:.3g} ({values[s]:.17g} vs {plain:.17g}): used the plain loop"
                )
                return False
        self.evaluations += len(picks)
        return True

    def losses(
        self, name: str, flat_indices: NDArray[Any], offsets: NDArray[Any]
    ) -> tuple[NDArray[Any], dict[int, str]]:
        """Loss at params[name].flat[i] + offsets[e, k] for i = flat_indices[e]: values [E, K], and
        {i: unit} for the entries whose points straddle a kink."""
        flat_indices = np.asarray(flat_indices, dtype=np.int64)
        count, points = offsets.shape
        indices = np.repeat(flat_indices, points)
        deltas = offsets.reshape(-1)
        values = np.empty(deltas.shape, dtype=np.result_type(self.dtype, deltas))
        units: dict[int, str | None] = {}  # position -> the first unit its point moved across a kink
        if self.perturbed is not None and self.batched is not None and self._verified.get(name, True):
            chunk = self.chunks.get(name, self.chunk)
            call = max(deltas.size, 1) if self.probe is None and self.perturbed.chunks_itself else chunk
            chunk_paths: list[tuple[int, int, str]] = []
            for start in range(0, deltas.size, call):
                part = slice(start, start + call)
                if self.probe is None:
                    values[part] = self.batched(name, indices[part], deltas[part])
                else:
                    values[part], nets = self.batched(name, indices[part], deltas[part], kinks=True)
                    units.update((start + s, unit) for s, unit in _crossings(self.base_units, nets).items())
                # Which path each chunk took, where the form says (positions within the call).
                chunk_paths += [(start + a, start + b, path) for a, b, path in getattr(self.batched, "chunk_paths", ())]
            if name not in self._verified:
                self._verified[name] = self._batched_agrees(name, indices, deltas, values, chunk, points, chunk_paths)
            if not self._verified[name]:
                self.evaluations += deltas.size  # spent, and thrown away for the loop below
        if self.perturbed is None or not self._verified[name]:
            flat = self.loop_params[name].reshape(-1)
            for s, (i, delta) in enumerate(zip(indices, deltas)):
                original = flat[i]
                flat[i] = original + delta
                values[s] = self.loss(self.loop_params)
                if self.probe is not None:
                    units[s] = crossed_unit(self.base_units, self.probe(self.loop_params))
                flat[i] = original
            units = {s: unit for s, unit in units.items() if unit is not None}
        self.evaluations += deltas.size
        kinks: dict[int, str] = {}
        for s in sorted(units):
            unit = units[s]
            if unit is not None:
                kinks.setdefault(int(flat_indices[s // points]), unit)
        return values.reshape(count, points), kinks


def _crossings(base_units: dict[str, Any], nets: Any) -> dict[int, str]:
    """{network of a batched call: the first unit it moved across a kink}, from the kinked nets
    the call returned ({layer: [count, ...]}, or NetsOfRows: the nets of some networks, the
    form having ruled out a crossing in the others)."""
    rows = None
    if isinstance(nets, NetsOfRows):
        rows, nets = nets.rows, nets.nets
    if not nets:
        return {}
    found = crossed_units_stacked(base_units, nets)
    return {int(s if rows is None else rows[s]): unit for s, unit in enumerate(found) if unit is not None}
