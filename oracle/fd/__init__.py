"""Finite differences in float64 over any `loss(params) -> float`, in one API.

They know nothing of the implementation they probe (this package never imports refbp.nn):
the checker passes the functions in. `finite_difference(method, loss, params, ...)` takes
  probe              params -> {layer: pre-activations of the kinked units}; an entry whose
                     perturbation moves one of them across 0 is a non-differentiable point,
                     reported with the unit, never judged
  perturbed          the batched form: perturbed(params) -> fn(name, flat_indices, deltas,
                     kinks=False) -> losses of many single-entry perturbations at once (else:
                     a loop); checked against `loss` on a few entries of each tensor first
  stacked            losses of a stack of parameter sets (directional; else: a loop)
  complex_loss, complex_perturbed, not_analytic
                     for the complex step; without complex_loss it is refused with
                     `not_analytic` as the message
Every method returns per-entry values, steps and estimated truncation + rounding errors.
"""

from __future__ import annotations

from .methods import ComplexStepRefused, central, complex_step, directional, richardson, sampled
from .result import FiniteDifference
from .steps import EPS, RELATIVE_STEP, step_sizes

METHODS = ("central", "richardson", "complex", "directional", "sampled")


def finite_difference(method: str, loss, params: dict, *, probe=None, perturbed=None, stacked=None,
                      complex_loss=None, complex_perturbed=None, not_analytic=None,
                      directions: int = 4, samples: int = 8, seed: int = 0) -> FiniteDifference:
    if method == "central":
        return central(loss, params, probe, perturbed)
    if method == "richardson":
        return richardson(loss, params, probe, perturbed)
    if method == "complex":
        return complex_step(complex_loss, params, complex_perturbed, not_analytic)
    if method == "directional":
        return directional(loss, params, probe, stacked, directions=directions, seed=seed)
    if method == "sampled":
        return sampled(loss, params, probe, perturbed, samples=samples, seed=seed)
    raise ValueError(f"unknown finite-difference method {method!r} (known: {', '.join(METHODS)})")


def central_difference(loss, params: dict, probe=None) -> FiniteDifference:
    """Central differences of every entry (kept for the callers of oracle.finite_diff)."""
    return central(loss, params, probe)


__all__ = ["EPS", "METHODS", "RELATIVE_STEP", "ComplexStepRefused", "FiniteDifference", "central_difference",
           "finite_difference", "step_sizes"]
