"""A classic wrong solution: dL/dW computed as x^T delta, the transpose of delta^T x.
On a square layer the shape fits and the numbers do not; on another the shape is wrong too."""

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


class TransposedGradient(solution.MLP):
    def weight_gradient(self, delta, previous_out):
        return previous_out.T @ delta  # the bug: [inputs, units] where [units, inputs] belongs


def factory(case: dict):
    return TransposedGradient(case) if solution.supported(case) else None
