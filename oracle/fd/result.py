"""What a finite-difference oracle returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class FiniteDifference:
    method: str
    # Per tensor, per entry (NaN where the method did not evaluate the entry, e.g. sampled):
    grads: dict[str, np.ndarray] = field(default_factory=dict)
    steps: dict[str, np.ndarray] = field(default_factory=dict)
    errors: dict[str, np.ndarray] = field(default_factory=dict)  # estimated |truncation| + |rounding|
    # tensor -> {entry index: the kinked unit it crosses, e.g. "layers.0.net[3][1]"}
    kinks: dict[str, dict[tuple[int, ...], str]] = field(default_factory=dict)
    evaluations: int = 0
    # Directional checks: unit directions u_i (by tensor name) and the derivative along each.
    directions: list[dict[str, np.ndarray]] = field(default_factory=list)
    directional: np.ndarray | None = None
    directional_errors: np.ndarray | None = None
    directional_step: float = float("nan")
    directional_kinks: dict[int, str] = field(default_factory=dict)
    # What the reader should know about how the values were obtained (e.g. a fallback to the loop).
    notes: list[str] = field(default_factory=list)
    # tensor -> {flat index: the method whose value replaced the first one} (a better method,
    # or the loss's measured noise, judged the entry again); the others are `method`'s.
    judged_by: dict[str, dict[int, str]] = field(default_factory=dict)
    largest_noise: float = 0.0  # the largest measured noise of the loss among those entries

    def kink_mask(self, name: str) -> np.ndarray:
        mask = np.zeros(self.grads[name].shape, dtype=bool)
        for index in self.kinks.get(name, {}):
            mask[index] = True
        return mask
