"""refbp.oracle.torch_optim against torch.optim's SGD and Adam classes: the same parameters after every
step, bit for bit, over several steps (momentum buffers and Adam's moments carried), with
weight decay, a parameter without a gradient, and float64 and float32; and no torch._dynamo."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from refbp.oracle.torch_optim import SGD, Adam

OPTIONS = {
    "sgd": [dict(lr=0.1), dict(lr=0.05, momentum=0.9), dict(lr=0.05, momentum=0.5, weight_decay=0.01)],
    "adam": [dict(lr=0.01), dict(lr=0.1, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.02)],
}
CLASSES = {"sgd": (SGD, torch.optim.SGD), "adam": (Adam, torch.optim.Adam)}


def _params(dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [
        torch.randn(4, 3, generator=g, dtype=dtype).requires_grad_(True),
        torch.randn(3, generator=g, dtype=dtype).requires_grad_(True),
        torch.randn(2, generator=g, dtype=dtype).requires_grad_(True),
    ]  # never in the loss: no gradient


def _run(make, dtype, steps=5):
    params = _params(dtype)
    optimizer = make(params)
    x = torch.linspace(-1.0, 1.0, 12, dtype=dtype).reshape(4, 3)
    history = []
    for step in range(steps):
        optimizer.zero_grad()
        loss = (torch.tanh(x * params[0]).sum(0) * params[1] + step * 0.1).pow(2).sum()
        loss.backward()
        optimizer.step()
        history.append([p.detach().clone() for p in params])
    return history


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("name,options", [(n, o) for n, opts in OPTIONS.items() for o in opts])
def test_same_numbers_as_torch_optim_classes(name, options, dtype):
    ours, theirs = CLASSES[name]
    mine = _run(lambda p: ours(p, **options), dtype)
    reference = _run(lambda p: theirs(p, **options), dtype)
    for step, (a, b) in enumerate(zip(mine, reference)):
        for i, (x, y) in enumerate(zip(a, b)):
            assert torch.equal(x, y), f"{name} {options} step {step} param {i}: {(x - y).abs().max()}"
    assert not torch.equal(mine[0][0], _params(dtype)[0])  # the steps did move the parameters


def test_a_different_update_is_told_apart():
    """The comparison above has teeth: SGD without its momentum differs from torch's SGD with it."""
    mine = _run(lambda p: SGD(p, lr=0.05), torch.float64)
    reference = _run(lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9), torch.float64)
    assert not torch.equal(mine[-1][0], reference[-1][0])


def test_no_dynamo_import():
    """The point of the module: a training reference without the second that torch._dynamo costs."""
    code = (
        "import sys, torch\nfrom refbp.oracle.torch_optim import SGD, Adam\n"
        "p = [torch.ones(2, dtype=torch.float64, requires_grad=True)]\n"
        "for o in (SGD(p, lr=0.1, momentum=0.9), Adam(p, lr=0.1)):\n"
        "    o.zero_grad(); (p[0] ** 2).sum().backward(); o.step()\n"
        "print('torch._dynamo' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
