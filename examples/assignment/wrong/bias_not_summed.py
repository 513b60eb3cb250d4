"""A classic wrong solution: the bias gradient not summed over the batch (one per example)."""

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


class BiasNotSummed(solution.MLP):
    def bias_gradient(self, delta):
        return delta  # the bug: [batch, units] where the sum over the batch, [units], belongs


def factory(case: dict):
    return BiasNotSummed(case) if solution.supported(case) else None
