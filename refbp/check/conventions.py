"""The admissible values of every answer where correct implementations may differ, and the
nearest of them to an answer (docs/formats.md, "Conventions").

The torch reference is computed under each choice that the case reaches (refbp.oracle.conventions:
the left or right slope at a relu-family unit whose net is exactly 0; bce's clamped value
or BCELoss's backward at a saturated output). An entry is admissible when it lies, within
tolerance, in the interval the choices span (between the two slopes lies any subgradient, a
relu'(0) in [0, 1]; at a saturated bce output, between the choices lies what rounding gives).
`--conventions torch` admits torch's own choices only.
Where no entry sits at such a point every choice gives the same numbers, and there is one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from refbp.cases import Case

from ..trace import Trace

if TYPE_CHECKING:  # refbp.oracle.conventions loads torch: imported where a case reaches a choice
    from refbp.oracle.conventions import Convention

# {quantity: {name: (low, high)}}: the values each entry may take (Admissible.bounds).
Bounds = dict[str, dict[str, tuple[Any, Any]]]
# The quantities a choice at a kink or a saturated output moves (the forward is the same for all).
CONVENTION_QUANTITIES = ("loss", "grads", "input_grads", "params_after", "loss_after")
CONVENTION_MODES = ("any", "torch")


@dataclass
class Variant:
    words: list[str]  # its choices in words: ["relu'(0) = 1", "bce: torch backward"]
    kink_slope: str
    bce: str
    trace: Trace


@dataclass
class Admissible:
    """The torch traces of a case under the choices it reaches; `variants[0]` is the primary one."""

    variants: list[Variant]
    kinked: tuple[str, ...] = ()
    bce: bool = False
    mode: str = "any"
    others: list[Variant] = field(default_factory=list)  # the other admissible choices, under "torch"
    # {quantity: {name: (low, high)}}: what each saturated bce output's own legitimate choice and
    # rounding can reach (refbp.oracle.saturated_bce), and each unit at its kink with its own slope
    # (refbp.oracle.slope_bounds), and each saturated sigmoid, tanh or elu unit with its slope from its net
    # or from its rounded output (refbp.oracle.slope_bounds).
    bounds: Bounds = field(default_factory=dict)
    saturated: tuple[str, ...] = ()  # the activations with a saturated unit

    def has_choices(self) -> bool:
        return len(self.variants) > 1 or bool(self.bounds)

    def values(self, quantity: str, name: str, variants: Sequence[Variant] | None = None) -> list[Any] | None:
        found = [_value(v.trace, quantity, name) for v in (variants or self.variants)]
        return None if any(f is None for f in found) else found

    def sensitive(self, quantity: str, name: str, atol: float, rtol: float) -> np.ndarray | None:
        """Entries where the admissible choices differ beyond tolerance (None: nowhere)."""
        every = self.variants + self.others
        bound = self.bounds.get(quantity, {}).get(name)
        if quantity not in CONVENTION_QUANTITIES or (len(every) < 2 and bound is None):
            return None
        values = self.values(quantity, name, every)
        if values is None:
            return None
        values += [np.asarray(b, dtype=float) for b in bound] if bound is not None else []
        low, high = np.minimum.reduce(values), np.maximum.reduce(values)
        with np.errstate(invalid="ignore"):
            differ = ~(high - low <= atol + rtol * np.abs(values[0]))
        return differ if differ.any() else None

    def nearest(self, quantity: str, name: str, actual: Any, atol: float, rtol: float) -> tuple[Any, str]:
        """(the admissible value nearest to each entry of `actual`, the words of the choice the
        tensor matched, or "" where every choice gives the same value)."""
        primary = _value(self.variants[0].trace, quantity, name)
        if primary is None or quantity not in CONVENTION_QUANTITIES or not self.has_choices():
            return primary, ""
        actual = np.asarray(actual, dtype=np.float64)
        values = self.values(quantity, name)
        if values is None or actual.shape != np.shape(primary):
            return primary, ""
        best, best_excess = np.asarray(primary, dtype=np.float64), None
        for low, high in self._intervals(quantity, name):
            candidate = np.clip(actual, low, high)
            with np.errstate(invalid="ignore", divide="ignore"):  # a NaN or infinite answer: judged below
                excess = np.abs(actual - candidate) / (atol + rtol * np.abs(candidate))
            if best_excess is None:
                best, best_excess = candidate, excess
            else:
                better = excess < best_excess
                best, best_excess = np.where(better, candidate, best), np.where(better, excess, best_excess)
        best = np.where(np.isfinite(actual), best, primary)  # a NaN answer is judged against torch's
        return best, self._words_matched(quantity, name, actual, atol, rtol)

    def _intervals(self, quantity: str, name: str) -> list[tuple[np.ndarray, np.ndarray]]:
        """The interval the choices span, entry by entry: between the two slopes at a kink lies
        every subgradient; at a saturated bce output the loss as computed is flat or jumps, and
        the choices bound what a correct implementation's rounding can give there."""
        values = [np.asarray(_value(v.trace, quantity, name), dtype=float) for v in self.variants]
        bound = self.bounds.get(quantity, {}).get(name)
        if bound is not None:
            values += [np.asarray(b, dtype=float) for b in bound]
        return [(np.minimum.reduce(values), np.maximum.reduce(values))]

    def _words_matched(self, quantity: str, name: str, actual: np.ndarray, atol: float, rtol: float) -> str:
        differ = self.sensitive(quantity, name, atol, rtol)
        if differ is None:
            return ""
        for variant in self.variants:
            value = np.asarray(_value(variant.trace, quantity, name), dtype=float)
            if np.all(np.abs(actual - value)[differ] <= atol + rtol * np.abs(value[differ])):
                return ", ".join(variant.words)
        for low, high in self._intervals(quantity, name):
            inside = (actual >= low - atol - rtol * np.abs(low)) & (actual <= high + atol + rtol * np.abs(high))
            if np.all(inside[differ]):
                words = [f"{k}'(0) in [{'0' if k == 'relu' else '0.01'}, 1]" for k in self.kinked]
                if self.bce:
                    words.append("bce: between its conventions at a saturated output")
                words += [f"{a}' at a saturated unit: from its net or its rounded output" for a in self.saturated]
                return ("subgradient: " if self.kinked else "") + ", ".join(words)
        return ""

    def other_convention(self, quantity: str, name: str, actual: Any, atol: float, rtol: float) -> str:
        """Under `--conventions torch`: the words of another admissible choice that `actual`
        matches ("" when none does): a failed row that is a convention, not a bug."""
        for variant in self.others:
            value = _value(variant.trace, quantity, name)
            if value is None or np.shape(value) != np.shape(actual):
                continue
            value = np.asarray(value, dtype=float)
            if np.all(np.abs(np.asarray(actual, dtype=float) - value) <= atol + rtol * np.abs(value)):
                return ", ".join(variant.words)
        return ""


def _value(trace: Trace, quantity: str, name: str) -> Any:
    if quantity in ("loss", "loss_after"):
        return getattr(trace, quantity)
    return (getattr(trace, quantity) or {}).get(name)


def admissible(case: Case, primary: Trace, compute: Callable[[Convention], Trace], mode: str = "any") -> Admissible:
    """The variants of `case` given its primary torch trace (relu'(0) = 0, bce's clamped value)
    and `compute(Convention) -> Trace`; only the choices the case reaches are computed."""
    from refbp.oracle.conventions import (
        Convention,
        bce_ill_conditioned,
        bce_saturated,
        kinked_at_zero,
        labels,
        output_activation,
        saturated_units,
    )
    from refbp.oracle.saturated_bce import saturated_bce_bounds
    from refbp.oracle.slope_bounds import slope_bounds

    kinked = kinked_at_zero(case.network, primary.intermediates)
    saturated = bce_saturated(case.loss, primary.outputs)
    slopes = ("left", "right") if kinked else ("left",)
    bces: tuple[str, ...] = ("value",)
    if saturated:
        bces = ("value", "torch", "logits") if output_activation(case.network) == "sigmoid" else ("value", "torch")
    every: list[Variant] = []
    for bce in bces:
        for slope in slopes:
            trace = primary if (slope, bce) == ("left", "value") else compute(Convention(slope, bce))
            every.append(Variant(labels(Convention(slope, bce), kinked, saturated), slope, bce, trace))
    found: list[Bounds | None] = []
    if bce_ill_conditioned(case.loss, primary.outputs) and output_activation(case.network) == "sigmoid":
        # each output's legitimate ways and roundings, independently, through either slope at a kink
        found += [saturated_bce_bounds(case, slope) for slope in slopes]
    # each unit at its kink or saturated with its own slope (None: none there)
    found.append(slope_bounds(case, primary))
    bounds = _union([b for b in found if b])
    saturated_at = saturated_units(case.network, primary.intermediates)
    if mode == "torch":
        # torch's own choices only; a saturated unit's slope is not a choice but the rounding of
        # the reference's own (torch's) backward, and still spans it
        own = [v for v in every if v.kink_slope == "left" and v.bce == ("torch" if saturated else "value")]
        rounding = slope_bounds(case, primary, kinks=False, bce=own[0].bce) if saturated_at else None
        return Admissible(
            own,
            kinked,
            saturated,
            mode,
            others=[v for v in every if v not in own],
            bounds=rounding or {},
            saturated=saturated_at,
        )
    return Admissible(every, kinked, saturated, mode, bounds=bounds, saturated=saturated_at)


def _union(all_bounds: list[Bounds]) -> Bounds:
    """{quantity: {name: (low, high)}} spanning every one of `all_bounds`."""
    union: Bounds = {}
    for bounds in all_bounds:
        for quantity, tensors in bounds.items():
            for name, (low, high) in tensors.items():
                if name in union.setdefault(quantity, {}):
                    old_low, old_high = union[quantity][name]
                    low, high = np.minimum(old_low, low), np.maximum(old_high, high)
                union[quantity][name] = (low, high)
    return union
