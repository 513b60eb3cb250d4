"""Finite differences in float64 over any `loss(params) -> float`.

They know nothing of the implementation they probe: give them refbp's forward and they
tell whether refbp's backward matches refbp's forward.

Kink rule: with a `probe(params) -> {name: pre-activations}` of the units whose activation
has a kink at 0 (relu family), an entry whose two perturbed points put some unit on
different sides of 0 is a non-differentiable point: it is reported with the unit
involved, and never judged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

EPS = float(np.finfo(np.float64).eps)
# Central differences: truncation ~ h^2 |f'''|, rounding ~ eps |f| / h; balanced near eps^(1/3).
CENTRAL_RELATIVE_STEP = EPS ** (1.0 / 3.0)


@dataclass
class FiniteDifference:
    grads: dict[str, np.ndarray]
    steps: dict[str, np.ndarray]
    # tensor -> {entry index: the kinked unit it crosses, e.g. "layers.0.net[3][1]"}
    kinks: dict[str, dict[tuple, str]] = field(default_factory=dict)
    method: str = "central"
    evaluations: int = 0

    def kink_mask(self, name: str) -> np.ndarray:
        mask = np.zeros(self.grads[name].shape, dtype=bool)
        for index in self.kinks.get(name, {}):
            mask[index] = True
        return mask


def step_sizes(value: np.ndarray, relative: float) -> np.ndarray:
    """A step per entry scaled to its magnitude, rounded so that x + h - x == h exactly."""
    h = relative * np.maximum(1.0, np.abs(value))
    return (value + h) - value


def central_difference(loss, params: dict, probe=None, relative_step: float = CENTRAL_RELATIVE_STEP) -> FiniteDifference:
    """(L(p + h e_i) - L(p - h e_i)) / 2h for every entry of every tensor."""
    params = {name: np.array(value, dtype=np.float64) for name, value in params.items()}
    result = FiniteDifference(grads={}, steps={})
    for name, tensor in params.items():
        grad = np.empty_like(tensor)
        steps = step_sizes(tensor, relative_step)
        flat, flat_grad, flat_steps = tensor.reshape(-1), grad.reshape(-1), steps.reshape(-1)
        kinks: dict[tuple, str] = {}
        for i in range(flat.size):
            original = flat[i]
            flat[i] = original + flat_steps[i]
            plus = loss(params)
            plus_units = probe(params) if probe is not None else None
            flat[i] = original - flat_steps[i]
            minus = loss(params)
            minus_units = probe(params) if probe is not None else None
            flat[i] = original
            flat_grad[i] = (plus - minus) / (2.0 * flat_steps[i])
            result.evaluations += 2
            if probe is not None:
                unit = crossed_kink(plus_units, minus_units)
                if unit is not None:
                    kinks[np.unravel_index(i, tensor.shape)] = unit
        result.grads[name] = grad
        result.steps[name] = steps
        if kinks:
            result.kinks[name] = {tuple(int(j) for j in k): v for k, v in kinks.items()}
    return result


def crossed_kink(plus: dict, minus: dict) -> str | None:
    """The first unit whose pre-activation is on different sides of 0 (or at 0) at the two points."""
    for name, a in plus.items():
        b = minus[name]
        crossed = (np.sign(a) != np.sign(b)) | (a == 0) | (b == 0)
        if crossed.any():
            index = np.unravel_index(int(np.flatnonzero(crossed)[0]), a.shape)
            return name + "".join(f"[{int(i)}]" for i in index)
    return None
