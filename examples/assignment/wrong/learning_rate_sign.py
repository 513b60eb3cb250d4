"""A classic wrong solution: the update climbs the loss, w + lr * g, where w - lr * g belongs.
Its gradients are right: only the training fails."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def _load_solution():
    """The reference solution, read by path (refbp imports this file by path, not as a package)."""
    path = Path(__file__).resolve().parents[1] / "solution" / "backprop.py"
    spec = importlib.util.spec_from_file_location("assignment_solution", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


solution = _load_solution()


class UphillStep(solution.MLP):
    def step(self, value, gradient):
        return value + self.lr * gradient  # the bug: the learning rate's sign


def factory(case: dict):
    return UphillStep(case) if solution.supported(case) else None
