"""The one builder of the torch networks (refbp.oracle.torch_modules): the reference, the benches and
gradcheck all compute the same function with it."""

from __future__ import annotations

import numpy as np
import torch

from refbp.cases import SUITE_DIR, load_case
from refbp.oracle import torch_reference
from refbp.oracle.torch_loss import loss_function, parameter_loss
from refbp.oracle.torch_modules import build_module, load_params

SEED = SUITE_DIR / "seed" / "seed-2-2-2.json"


def some_mlp_case():
    return load_case(next(p for p in sorted((SUITE_DIR / "mlp").glob("*.json")) if "softmax" not in p.name))


RNN_CASES = [
    SUITE_DIR / "rnn" / f"{name}.json"
    for name in ("rnn-tanh-last-half-sse", "rnn-adam-train-relu-h0", "rnn-truncated-k5")
]


def test_parameter_loss_is_the_reference_loss_and_gradient():
    for case in [load_case(SEED), some_mlp_case()] + [load_case(path) for path in RNN_CASES]:
        loss, names = parameter_loss(case)
        tensors = [torch.tensor(case.params[n], dtype=torch.float64, requires_grad=True) for n in names]
        value = loss(*tensors)
        grads = torch.autograd.grad(value, tensors)
        reference = torch_reference.trace(case)
        assert value.item() == loss_function(case)[0](case.params) == reference.loss
        for name, grad in zip(names, grads):
            np.testing.assert_array_equal(grad.numpy(), reference.grads[name], err_msg=name)


def test_the_builder_takes_any_dtype_and_loads_by_the_case_names():
    case = load_case(SEED)
    module = build_module(case.network, dtype=torch.float32)
    named = load_params(module, case.params)
    assert set(named) == set(case.params) and all(p.dtype == torch.float32 for p in named.values())
    out = module(torch.as_tensor(case.inputs, dtype=torch.float32))
    np.testing.assert_allclose(out.detach().numpy(), torch_reference.trace(case).outputs, rtol=1e-6)
