"""A classic wrong solution: the sigmoid's derivative taken of the net input, net (1 - net),
where out (1 - out) belongs (the derivative formula s(1 - s) applied to the wrong value)."""

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


class SigmoidOnNet(solution.MLP):
    def activation_slope(self, activation, net, out):
        if activation == "sigmoid":
            return net * (1.0 - net)  # the bug: of the net input, not of the output
        return super().activation_slope(activation, net, out)


def factory(case: dict):
    return SigmoidOnNet(case) if solution.supported(case) else None
