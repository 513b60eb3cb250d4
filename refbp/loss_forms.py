"""The forms of one loss function that finite differences can use: the typed contract
between whoever evaluates a forward (refbp.perturbed for refbp's, refbp.oracle.torch_loss for the
torch reference's, a user's adapter) and refbp.oracle.fd, which consumes it.

It lives here, beside refbp.names and refbp.trace, so that both sides import one neutral
definition: refbp.oracle.fd never imports refbp.nn or refbp.perturbed, and refbp.perturbed never
imports oracle. Only `loss` is required; every other form is an optional speed-up or the
complex step, and refbp.oracle.fd checks each fast form against `loss` before trusting it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

Params = Mapping[str, np.ndarray]


class PerturbedLosses(Protocol):
    """Losses of S networks that each differ from the parameters it was made at in one entry:
    network s has entry flat_indices[s] of tensor `name` moved by deltas[s] (real, or imaginary
    for the complex step). Returns losses [S]; with `kinks`, also {layer: stacked net [S, ...]}
    of the kinked units (or only its signs: a crossing depends on nothing else), or
    `NetsOfRows` where the form has ruled out a crossing in all networks but some. It may
    say, after each call, which code path computed which networks (`chunk_paths`:
    [(first, end, path name)], ranges that may overlap), so that the agreement check samples
    every path."""

    def __call__(self, name: str, flat_indices: np.ndarray, deltas: np.ndarray, kinks: bool = False): ...


@dataclass(frozen=True)
class NetsOfRows:
    """The kinked nets (or their signs) {layer: [len(rows), ...]} of only the networks `rows` of
    a call: the form has ruled out that any other network moves a kinked unit across 0 (by a
    margin that covers rounding), and gives these to the probe's comparison."""

    rows: np.ndarray
    nets: Mapping[str, np.ndarray]


@dataclass(frozen=True)
class PerturbedForm:
    """A batched form of the loss at many single-entry perturbations.

    `at(params, chunks)` gives the PerturbedLosses at `params` (which must not change while it
    is in use). `chunks` {tensor: n} bounds the perturbations per call (absent: the
    evaluator's default); with `chunks_itself`, a call without kinks may hold a whole
    tensor, and the form runs it in chunks of `chunks[name]` on its own work arrays."""

    at: Callable[[Params, Mapping[str, int]], PerturbedLosses]
    chunks: Mapping[str, int] = field(default_factory=dict)
    chunks_itself: bool = False


@dataclass(frozen=True)
class LossForms:
    """`loss(params) -> float` and what else the implementation offers:

    probe              params -> {layer: pre-activations of the kinked units}: an entry whose
                       perturbation moves one across 0 is a non-differentiable point
    perturbed          many single-entry perturbations at once (else: a loop over `loss`)
    stacked            (params with a leading axis S on every tensor, kinks=False) -> losses [S]
                       (and, with kinks, the stacked nets of the kinked layers); else a loop
    complex_loss       the same forward in complex arithmetic (the complex step), only where
                       every function of the network is analytic; else `not_analytic` says why
    complex_perturbed  `perturbed` in complex arithmetic
    """

    loss: Callable[[Params], float]
    probe: Callable[[Params], dict] | None = None
    perturbed: PerturbedForm | None = None
    stacked: Callable[..., object] | None = None
    complex_loss: Callable[[Params], complex] | None = None
    complex_perturbed: PerturbedForm | None = None
    not_analytic: str | None = None
