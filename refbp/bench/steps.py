"""One forward + loss + backward step, timed by the benchmarks: refbp.nn's, or the torch reference's.

`backend_step` prepares it on a backend's arrays: numpy for refbp-numpy, torch tensors of the
backend's device for refbp on torch (the same hand-written code through the Array-API namespace)
and for the torch reference (refbp.oracle.torch_modules' network, torch.nn's loss, autograd).
"""

from __future__ import annotations

from refbp.nn import losses
from refbp.nn.backend import namespace
from refbp.nn.runner import build_model

from .common import device_of


def refbp_step(network, loss_name: str, params: dict):
    """`step(inputs, targets)`: refbp.nn's forward, loss, loss gradient and backward, on any namespace."""
    model = build_model(network)
    loss = losses.get(loss_name)

    def step(inputs, targets):
        xp = namespace(inputs)
        cache = model.forward(xp, params, inputs)
        loss.value(xp, cache.outputs, targets)
        model.backward(xp, params, cache, loss.gradient(xp, cache.outputs, targets))

    return step


def torch_step(network, loss_name: str, params: dict):
    """`step(inputs, targets)`: the torch reference's network with these weights (torch tensors, whose
    dtype and device it takes), torch.nn's loss, the gradients of every weight by autograd."""
    # torch takes seconds to import: only when a torch backend is timed, not when the CLI starts.
    import torch

    from refbp.oracle.torch_functions import loss_value
    from refbp.oracle.torch_modules import build_module, load_params

    first = next(iter(params.values()))
    module = build_module(network, dtype=first.dtype, device=first.device)
    weights = list(load_params(module, params).values())

    def step(inputs, targets):
        torch.autograd.grad(loss_value(loss_name, module(inputs), targets), weights)

    return step


def backend_step(backend: str, network, loss_name: str, params, inputs, targets):
    """`(step, inputs, targets)` for one backend, from numpy arrays: refbp-numpy, refbp-torch-<device>
    or a torch reference backend (any other name) on its device."""
    if backend == "refbp-numpy":
        return refbp_step(network, loss_name, params), inputs, targets
    import torch  # as in torch_step: only when a torch backend is timed

    def put(array):
        return torch.as_tensor(array, device=device_of(backend))

    on_device = {name: put(value) for name, value in params.items()}
    make = refbp_step if backend.startswith("refbp-") else torch_step
    return make(network, loss_name, on_device), put(inputs), put(targets)
