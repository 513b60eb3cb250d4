"""Finite differences in float64 over any loss function, in one API.

They know nothing of the implementation they probe (this package never imports refbp.nn or
refbp.perturbed): the checker passes in a `LossForms` (refbp.loss_forms, the neutral
contract), whose only required form is `loss(params) -> float`. Its other forms are used
when given:
  probe              an entry whose perturbation moves a kinked unit across 0 is a
                     non-differentiable point, reported with the unit, never judged
  perturbed          the batched form of many single-entry perturbations (else: a loop); its
                     losses are checked against `loss` in every chunk and path of each tensor
                     (refbp.oracle.fd.agreement), and a tensor where they differ, or where one is
                     not finite, is redone by the loop, with a note
  stacked            losses of a stack of parameter sets (directional; else: a loop)
  complex_loss, complex_perturbed, not_analytic
                     for the complex step; without complex_loss it is refused with
                     `not_analytic` as the message
Every method returns per-entry values, steps and estimated truncation + rounding errors.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from refbp.loss_forms import LossForms
from refbp.names import FD_METHODS

from .agreement import agrees
from .methods import ComplexStepRefused, Select, central, complex_step, directional, richardson, sampled
from .noise import LossNoise
from .result import FiniteDifference
from .steps import EPS, RELATIVE_STEP, loss_rounding, step_sizes

METHODS = tuple(FD_METHODS)


def finite_difference(
    method: str,
    forms: LossForms,
    params: dict[str, NDArray[Any]],
    *,
    directions: int = 4,
    samples: int = 8,
    seed: int = 0,
    entries: dict[str, Any] | None = None,
) -> FiniteDifference:
    """`entries` {tensor: flat indices}, for central, richardson and complex: only those entries
    are evaluated (every other entry NaN): one share of a finite difference split across
    workers (refbp.check.split_fd)."""
    select = None if entries is None else _entries_of(entries)
    if entries is not None and method not in ("central", "richardson", "complex"):
        raise ValueError(f"finite differences of chosen entries: not for {method!r} (central, richardson, complex)")
    if method == "central":
        return central(forms, params, select=select)
    if method == "richardson":
        return richardson(forms, params, select=select)
    if method == "complex":
        if forms.complex_loss is not None and not _same_function(forms, params):
            # The complex-capable forward is another code path: if it does not compute the
            # loss being checked, its derivative says nothing about that loss.
            result = central(forms, params, select=select)
            result.notes.insert(
                0,
                "the complex-capable forward disagreed with the loss at the case's "
                "parameters: central differences used instead of the complex step",
            )
            return result
        return complex_step(forms, params, select=select)
    if method == "directional":
        return directional(forms, params, directions=directions, seed=seed)
    if method == "sampled":
        return sampled(forms, params, samples=samples, seed=seed)
    raise ValueError(f"unknown finite-difference method {method!r} (known: {', '.join(METHODS)})")


def _entries_of(entries: dict[str, Any]) -> Select:
    """The `select` of a finite difference of these entries only ({tensor: flat indices})."""

    def select(name: str, tensor: NDArray[Any]) -> NDArray[np.int64]:
        return np.asarray(entries.get(name, ()), dtype=np.int64)

    return select


def escalated(forms: LossForms, params: dict[str, NDArray[Any]], entries: dict[str, Any]) -> FiniteDifference:
    """The derivative at chosen entries ({tensor: flat indices}) by a more accurate method than
    central differences: the complex step where the network is analytic and its complex
    forward computes the loss being checked, else Richardson on central differences' own step
    (the same rounding, a truncation of order h^6 that it measures instead of guessing; its
    usual, wider step is what large weights or inputs defeat). For entries where central
    differences' error estimate cannot be trusted: their estimate of the truncation is a
    heuristic (refbp.oracle.fd.steps.central_error)."""
    chosen = {name: np.asarray(entries.get(name, ()), dtype=np.int64) for name in params}

    def select(name: str, tensor: NDArray[Any]) -> NDArray[np.int64]:
        return chosen[name]

    if forms.complex_loss is not None and _same_function(forms, params):
        return complex_step(forms, params, select=select)
    return richardson(forms, params, select=select, relative=RELATIVE_STEP["central"])


def _same_function(forms: LossForms, params: dict[str, NDArray[Any]]) -> bool:
    plain = float(forms.loss(params))
    assert forms.complex_loss is not None
    complex_value = complex(forms.complex_loss({n: np.asarray(v, dtype=np.complex128) for n, v in params.items()}))
    return agrees(plain, complex_value.real, plain, 0.0) and complex_value.imag == 0


__all__ = [
    "EPS",
    "METHODS",
    "RELATIVE_STEP",
    "ComplexStepRefused",
    "FiniteDifference",
    "LossForms",
    "LossNoise",
    "escalated",
    "finite_difference",
    "loss_rounding",
    "richardson",
    "step_sizes",
]
