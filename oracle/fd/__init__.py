"""Finite differences in float64 over any `loss(params) -> float`, in one API.

They know nothing of the implementation they probe (this package never imports refbp.nn):
the checker passes the functions in. `finite_difference(method, loss, params, ...)` takes
  probe              params -> {layer: pre-activations of the kinked units}; an entry whose
                     perturbation moves one of them across 0 is a non-differentiable point,
                     reported with the unit, never judged
  perturbed          the batched form: perturbed(params) -> fn(name, flat_indices, deltas,
                     kinks=False) -> losses of many single-entry perturbations at once (else:
                     a loop); its losses are checked against `loss` at two entries of each
                     tensor, and a tensor where they differ is redone by the loop, with a note
  stacked            losses of a stack of parameter sets (directional; else: a loop)
  complex_loss, complex_perturbed, not_analytic
                     for the complex step; without complex_loss it is refused with
                     `not_analytic` as the message
Every method returns per-entry values, steps and estimated truncation + rounding errors.
"""

from __future__ import annotations

import numpy as np

from refbp.names import FD_METHODS

from .methods import ComplexStepRefused, central, complex_step, directional, richardson, sampled
from .result import FiniteDifference
from .steps import EPS, RELATIVE_STEP, step_sizes

METHODS = tuple(FD_METHODS)


def finite_difference(method: str, loss, params: dict, *, probe=None, perturbed=None, stacked=None,
                      complex_loss=None, complex_perturbed=None, not_analytic=None,
                      directions: int = 4, samples: int = 8, seed: int = 0) -> FiniteDifference:
    if method == "central":
        return central(loss, params, probe, perturbed)
    if method == "richardson":
        return richardson(loss, params, probe, perturbed)
    if method == "complex":
        if complex_loss is not None and not _same_function(loss, complex_loss, params):
            # The complex-capable forward is another code path: if it does not compute the
            # loss being checked, its derivative says nothing about that loss.
            result = central(loss, params, probe, perturbed)
            result.notes.insert(0, "the complex-capable forward disagreed with the loss at the case's "
                                   "parameters: central differences used instead of the complex step")
            return result
        return complex_step(complex_loss, params, complex_perturbed, not_analytic)
    if method == "directional":
        return directional(loss, params, probe, stacked, directions=directions, seed=seed)
    if method == "sampled":
        return sampled(loss, params, probe, perturbed, samples=samples, seed=seed)
    raise ValueError(f"unknown finite-difference method {method!r} (known: {', '.join(METHODS)})")


def _same_function(loss, complex_loss, params: dict) -> bool:
    from .evaluate import AGREEMENT_ULPS

    plain = float(loss(params))
    complex_value = complex(complex_loss({n: np.asarray(v, dtype=np.complex128) for n, v in params.items()}))
    return abs(complex_value.real - plain) <= AGREEMENT_ULPS * EPS * max(abs(plain), 1.0) and complex_value.imag == 0


__all__ = ["EPS", "METHODS", "RELATIVE_STEP", "ComplexStepRefused", "FiniteDifference", "finite_difference", "step_sizes"]
