"""The case's loss as computed by the torch reference, as a function of the parameters.

`loss_function`: a plain `loss(params) -> float` over numpy arrays. Finite differences of
THIS function are the finite-difference reference for implementations refbp cannot call
(`refbp verify`): they probe the definition, through torch.nn modules in float64, never the
code under test. `parameter_loss`: the same loss as a torch function of the parameter
tensors, what `torch.autograd.gradcheck` differentiates (`refbp bench fd`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import numpy as np
import torch

from refbp.names import KINKED_ACTIVATIONS

from .torch_functions import DTYPE, case_tensor, loss_value
from .torch_modules import build_module, load_params

if TYPE_CHECKING:
    from refbp.cases.model import Case, MLPNetwork, RNNNetwork

Params = dict[str, np.ndarray]


def kinked_intermediates(network: MLPNetwork | RNNNetwork) -> list[str]:
    """Names of the recorded pre-activations whose activation has a kink at 0."""
    if network.kind == "mlp":
        return [f"layers.{i}.net" for i, a in enumerate(network.activations) if a in KINKED_ACTIVATIONS]
    names = ["rnn.net"] if network.nonlinearity in KINKED_ACTIVATIONS else []
    if network.output_activation in KINKED_ACTIVATIONS:
        names.append("readout.net")
    return names


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """torch on one thread while finite differences evaluate the loss thousands of times: its
    products are tiny, and on a busy machine its thread pool's hand-offs cost far more than
    the products themselves (the numbers are in docs/performance.md)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def loss_function(case: Case) -> tuple[Callable[[Params], float], Callable[[Params], dict[str, np.ndarray]]]:
    """(loss, probe) over parameter dicts of numpy float64 arrays, like refbp.nn.loss_function."""
    module = build_module(case.network)
    load_params(module, case.params)
    named = dict(module.named_parameters())
    inputs, targets = case_tensor(case.inputs), case_tensor(case.targets)
    h0 = None if case.h0 is None else case_tensor(case.h0)
    kinked = kinked_intermediates(case.network)
    held = _held_states(case, module, inputs, h0)

    def evaluate(params: Params, record: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        with torch.no_grad(), _one_thread():
            for name, value in params.items():
                named[name].copy_(torch.as_tensor(value, dtype=DTYPE))
            outputs = module(inputs, h0, record, held) if held else module(inputs, h0, record)
            return loss_value(case.loss, outputs, targets)

    def value(params: Params) -> float:
        return float(evaluate(params))

    def probe(params: Params) -> dict[str, np.ndarray]:
        record: dict[str, torch.Tensor] = {}
        evaluate(params, record)
        return {name: record[name].numpy().copy() for name in kinked}

    return value, probe


def parameter_loss(case: Case) -> tuple[Callable[..., torch.Tensor], list[str]]:
    """`(loss(*tensors) -> tensor, names)`: the case's loss as a torch function of its parameter
    tensors, given in the order of `names`; data fixed from the case, float64. An RNN's is
    the loss finite differences check: truncated BPTT's with its held states (`loss_function`)."""
    module = build_module(case.network)
    names = list(case.params)
    inputs, targets = case_tensor(case.inputs), case_tensor(case.targets)
    if case.network.kind == "rnn":
        load_params(module, case.params)  # the held states are those of the case's parameters
        h0 = None if case.h0 is None else case_tensor(case.h0)
        held = _held_states(case, module, inputs, h0) or None

        def outputs(params: dict[str, torch.Tensor]) -> torch.Tensor:
            out: torch.Tensor = module(inputs, h0, None, held, params=params)
            return out
    else:

        def outputs(params: dict[str, torch.Tensor]) -> torch.Tensor:
            out: torch.Tensor = module(inputs, params=params)
            return out

    def loss(*tensors: torch.Tensor) -> torch.Tensor:
        return loss_value(case.loss, outputs(dict(zip(names, tensors))), targets)

    return loss, names


def _held_states(
    case: Case, module: torch.nn.Module, inputs: torch.Tensor, h0: torch.Tensor | None
) -> dict[int, torch.Tensor]:
    """Truncated BPTT's gradient is the exact gradient of the loss with every chunk-entering
    hidden state held at its value at the case's parameters: {chunk-start step: state}."""
    k = getattr(case.network, "truncate", None)
    if not k:
        return {}
    record: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        module(inputs, h0, record)
    states = record["rnn.h"]
    return {t: states[:, t - 1, :].clone() for t in range(k, states.shape[1], k)}
