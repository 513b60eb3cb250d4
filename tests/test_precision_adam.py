"""refbp.nn's Adam on float16 and bfloat16 parameters: torch's fused Adam's numbers, and no warning.

eps = 1e-8 is 0 in float16 and the square of a gradient of 1e-5 underflows there: computed in the
parameter's dtype, Adam divides 0 by 0 where a gradient entry is 0 (numpy's RuntimeWarning, and
torch's unfused float16 Adam's NaN). refbp.nn computes the step in float32 and rounds the
parameter and the moments to their dtype once, as torch.optim.Adam(fused=True) does.
"""

from __future__ import annotations

import warnings

import ml_dtypes
import numpy as np
import pytest
import torch

from refbp.cases import SUITE_DIR, load_case
from refbp.cases.dtypes import at_dtype
from refbp.nn import compute_trace
from refbp.nn.optim import Adam

DTYPES = [(np.float16, torch.float16), (ml_dtypes.bfloat16, torch.bfloat16)]


def _gradients(dtype, steps=4, seed=0):
    rng = np.random.default_rng(seed)
    grads = []
    for _ in range(steps):
        g = rng.normal(0, 1, (5, 7))
        g[0, :3] = 0.0  # a unit that gets no gradient: 0 / (0 + eps) in float32, 0 / 0 in float16
        g[1, :3] = 1e-5  # its square underflows in float16
        grads.append(g.astype(dtype))
    return grads


def _torch_adam(start, grads, torch_dtype, **options):
    param = torch.tensor(start.astype(np.float64)).to(torch_dtype).requires_grad_(True)
    optimizer = torch.optim.Adam([param], **options)
    for g in grads:
        param.grad = torch.tensor(g.astype(np.float64)).to(torch_dtype)
        optimizer.step()
    return param.detach().double().numpy()


@pytest.mark.parametrize("dtype,torch_dtype", DTYPES, ids=["float16", "bfloat16"])
def test_adam_in_low_precision_is_torchs_fused_adam_bit_for_bit_without_a_warning(dtype, torch_dtype):
    start = np.random.default_rng(1).normal(0, 1, (5, 7)).astype(dtype)
    grads = _gradients(dtype)
    ours = Adam(0.01, weight_decay=0.01)
    params = {"w": start}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's divide-by-zero RuntimeWarning fails the test
        for g in grads:
            params = ours.step(np, params, {"w": g}, ["w"])
    assert params["w"].dtype == np.dtype(dtype) and ours.m["w"].dtype == np.dtype(dtype)
    fused = _torch_adam(start, grads, torch_dtype, lr=0.01, weight_decay=0.01, fused=True)
    assert np.array_equal(params["w"].astype(np.float64), fused)
    without_decay, params = Adam(0.01), {"w": start}
    for g in grads:
        params = without_decay.step(np, params, {"w": g}, ["w"])
    assert np.all(params["w"][0, :3] == start[0, :3])  # no gradient: no step, as in float64


def test_torchs_unfused_float16_adam_has_no_digit_where_a_gradient_is_0():
    """Why refbp.nn does not copy it: the same steps in torch's default (unfused, CPU) float16 Adam."""
    start = np.random.default_rng(1).normal(0, 1, (5, 7)).astype(np.float16)
    unfused = _torch_adam(start, _gradients(np.float16), torch.float16, lr=0.01, weight_decay=0.01)
    assert not np.all(np.isfinite(unfused[0, :3]))


def test_adam_in_float64_and_float32_is_unchanged():
    """The float32 inside applies to narrower dtypes only: float64 is torch.optim.Adam's float64."""
    for dtype, torch_dtype in ((np.float64, torch.float64), (np.float32, torch.float32)):
        start = np.random.default_rng(2).normal(0, 1, (5, 7)).astype(dtype)
        grads = _gradients(dtype)
        ours, params = Adam(0.01, betas=(0.8, 0.99)), {"w": start}
        for g in grads:
            params = ours.step(np, params, {"w": g}, ["w"])
        assert params["w"].dtype == np.dtype(dtype)
        expected = _torch_adam(start, grads, torch_dtype, lr=0.01, betas=(0.8, 0.99))
        assert np.allclose(params["w"], expected, rtol=0, atol=8 * np.finfo(dtype).eps)


def test_a_float16_adam_case_trains_without_a_runtime_warning():
    case = at_dtype(load_case(SUITE_DIR / "mlp" / "mlp-bce-b12-adam.json"), "float16")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        trace = compute_trace(case)
    assert all(np.all(np.isfinite(v)) for v in trace.params_after.values())
