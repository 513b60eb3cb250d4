"""Conventions (docs/formats.md, "Conventions"): every admissible value passes and the row names
the convention it matched; a value outside the admissible set fails (the teeth); and
`--conventions torch` admits torch's own choices only, naming the other convention as such."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from refbp.check.check_case import torch_checks
from refbp.check.references import References
from refbp.check.suite import load_cases
from refbp.nn import compute_trace
from refbp.oracle import torch_reference
from refbp.oracle.conventions import Convention

CASES = {case.id: case for case in load_cases(None, "test").cases}
ZERO_NETS = "mlp-zero-nets-leaky-relu-relu-b4"  # units with nets exactly 0 (relu and leaky_relu)
SATURATED = "fuzz-mlp-507820d39155"  # a bce output where y (1 - y) < 1e-12


def grad_rows(case, trace, mode="any"):
    admissible = References().admissible(case, "", mode)
    return [r for r in torch_checks(case, trace, admissible) if r.quantity in ("grads", "input_grads")]


def with_grads(trace, grads):
    changed = copy.deepcopy(trace)
    changed.grads = grads
    return changed


def test_the_right_derivative_at_zero_passes_and_is_named():
    case = CASES[ZERO_NETS]
    right = torch_reference.trace(case, Convention("right"))
    rows = grad_rows(case, right)
    assert rows and all(r.passed for r in rows)
    assert any("relu'(0) = 1" in r.convention for r in rows)


def test_a_subgradient_between_the_two_slopes_passes():
    case = CASES[ZERO_NETS]
    left, right = torch_reference.trace(case), torch_reference.trace(case, Convention("right"))
    # Where one layer's units sit at 0 the gradient is affine in the slope chosen there.
    half = {n: (left.grads[n] + right.grads[n]) / 2 for n in left.grads}
    rows = grad_rows(case, with_grads(left, half))
    assert all(r.passed for r in rows)


def test_relu_slope_two_at_zero_fails_naming_the_tensor():
    case = CASES[ZERO_NETS]
    left, right = torch_reference.trace(case), torch_reference.trace(case, Convention("right"))
    twice = {n: left.grads[n] + 2.0 * (right.grads[n] - left.grads[n]) for n in left.grads}
    moved = [n for n in left.grads if not np.allclose(left.grads[n], right.grads[n], rtol=1e-7, atol=1e-10)]
    assert moved, "the case has no unit at its kink"
    failed = {r.tensor for r in grad_rows(case, with_grads(left, twice)) if not r.passed}
    assert failed == set(moved)


def test_torch_s_bce_backward_passes_and_is_named():
    case = CASES[SATURATED]
    own = torch_reference.trace(case, Convention("left", "torch"))
    rows = grad_rows(case, own)
    assert all(r.passed for r in rows)
    assert any("bce: torch backward" in r.convention for r in rows)


def test_a_bce_gradient_outside_every_convention_fails():
    case = CASES[SATURATED]
    admissible = References().admissible(case, "")
    value = torch_reference.trace(case)
    wrong = {}
    for name, g in value.grads.items():
        low, high = admissible._intervals("grads", name)[0]
        wrong[name] = np.where(high - low > 1e-6, high + (high - low) + 1.0, g)  # beyond every convention
    failed = [r.tensor for r in grad_rows(case, with_grads(value, wrong)) if not r.passed]
    assert failed


def test_a_bce_log_clamped_at_the_wrong_place_fails():
    """Logs clamped at -10 instead of -100: an output of 1e-6 gets no gradient from its log."""
    case = copy.deepcopy(CASES["mlp-bce-b12-adam"])
    case.params["layers.1.bias"] = case.params["layers.1.bias"] - 14.0  # outputs near e^-14
    right = compute_trace(case)
    assert np.any((right.outputs > 1e-12) & (right.outputs < np.exp(-10.0)))
    params = {n: torch.tensor(v, requires_grad=True) for n, v in case.params.items()}
    x, t = torch.tensor(case.inputs), torch.tensor(case.targets)
    y = torch.sigmoid(
        F.linear(
            torch.tanh(F.linear(x, params["layers.0.weight"], params["layers.0.bias"])),
            params["layers.1.weight"],
            params["layers.1.bias"],
        )
    )
    loss = -torch.mean(t * torch.clamp(torch.log(y), min=-10.0) + (1 - t) * torch.clamp(torch.log(1 - y), min=-10.0))
    loss.backward()
    bugged = {n: p.grad.numpy() for n, p in params.items()}
    assert all(r.passed for r in grad_rows(case, right))
    failed = {r.tensor for r in grad_rows(case, with_grads(right, bugged)) if not r.passed}
    assert "layers.1.bias" in failed


@pytest.mark.parametrize(
    "case_id, convention, words",
    [
        (ZERO_NETS, Convention("right"), "relu'(0) = 1"),
        (SATURATED, Convention("left", "value"), "bce: derivative of the clamped value"),
    ],
)
def test_conventions_torch_fails_another_convention_and_names_it(case_id, convention, words):
    case = CASES[case_id]
    other = torch_reference.trace(case, convention)
    assert all(r.passed for r in grad_rows(case, other, "any"))
    failed = [r for r in grad_rows(case, other, "torch") if not r.passed]
    assert failed and all(r.diagnosis == "convention" and words in r.diagnosis_note for r in failed)


def test_torch_s_own_choices_pass_under_conventions_torch():
    for case_id in (ZERO_NETS, SATURATED):
        case = CASES[case_id]
        own = torch_reference.trace(case, Convention("left", "torch"))
        assert all(r.passed for r in grad_rows(case, own, "torch"))
