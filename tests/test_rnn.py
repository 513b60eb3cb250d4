"""The RNN's hand-written BPTT against torch.nn.RNN and against finite differences.

refbp.testing.strategies draws the shape first (input, hidden, output sizes, T, batch,
nonlinearity, readout, loss, h0, biases, truncation), then the numbers. The checker and its
tolerance policy judge; these tests only say that every row passed.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings

from helpers import failed_rows
from refbp.cases import parse_case
from refbp.check import check_case
from refbp.check.tolerance import FLOAT32, tolerance_for
from refbp.nn import compute_trace
from refbp.nn.rnn import RNN
from refbp.testing import assert_matches_torch
from refbp.testing.strategies import rnn_cases


def describe_failures(verdict) -> str:
    return "; ".join(f"{c.quantity} {c.tensor} vs {c.reference}: {c.note}" for c in failed_rows(verdict))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rnn_cases())
def test_rnn_matches_torch_rnn_and_finite_differences(case):
    verdict = check_case(case, oracles=("torch", "fd"))
    assert verdict.passed, describe_failures(verdict)
    references = {c.reference for c in verdict.checks}
    assert references == {"torch-autograd", "finite-difference"}
    judged = {(c.quantity, c.tensor) for c in verdict.checks}
    assert ("grads", "rnn.weight_hh") in judged and ("intermediates", "rnn.net") in judged
    if case.h0 is not None:
        assert ("input_grads", "h0") in judged


@settings(max_examples=10, deadline=None)
@given(rnn_cases(max_steps=5, train=True))
def test_training_matches_torch_optim(case):
    assert "params_after" in {c.quantity for c in assert_matches_torch(case)}


def _document(**network):
    base = {"kind": "rnn", "input_size": 2, "hidden_size": 3, "output_size": 2}
    base.update(network)
    return {
        "format": "refbp-case/1",
        "id": "unit-rnn",
        "network": base,
        "loss": "mse",
        "params": {"init": {"scheme": "normal", "seed": 5, "scale": 0.5}},
        "inputs": {"random": {"seed": 6, "distribution": "normal", "batch": 2, "steps": 9}},
        "targets": {"random": {"seed": 7, "distribution": "normal"}},
    }


def _grads(case):
    model = RNN(case.network)
    cache = model.forward(np, case.params, case.inputs)
    grad_output = 2.0 * (cache.outputs - case.targets) / case.targets.size
    return model.backward(np, case.params, cache, grad_output).grads


def test_truncation_no_shorter_than_the_sequence_changes_nothing():
    full = _grads(parse_case(_document()))
    cut_after = _grads(parse_case(_document(truncate=9)))
    for name in full:
        np.testing.assert_array_equal(full[name], cut_after[name])


def test_truncation_changes_the_recurrent_gradients_only_through_time():
    full = _grads(parse_case(_document()))
    cut = _grads(parse_case(_document(truncate=3)))
    # The readout sees h_t itself, not the path through time: truncation leaves it alone.
    np.testing.assert_array_equal(full["readout.weight"], cut["readout.weight"])
    assert not np.allclose(full["rnn.weight_hh"], cut["rnn.weight_hh"])


def test_truncate_one_gives_each_step_only_its_own_readout():
    case = parse_case(_document(truncate=1))
    model = RNN(case.network)
    cache = model.forward(np, case.params, case.inputs)
    grad_output = 2.0 * (cache.outputs - case.targets) / case.targets.size
    grad_h = grad_output @ case.params["readout.weight"]
    through = model.through_time(np, case.params, cache, grad_h.copy())  # it accumulates into its argument
    for t in range(case.steps):
        np.testing.assert_array_equal(through.grad_states[:, t, :], grad_h[:, t, :])


def test_float32_case_is_computed_in_float32_and_passes():
    document = _document()
    document["dtype"] = "float32"
    case = parse_case(document)
    verdict = check_case(case, oracles=("torch", "fd"))
    assert verdict.passed, describe_failures(verdict)
    # float32's table, or wider where torch's own float32 error is larger (the stick, docs/precision.md)
    assert all(c.atol >= tolerance_for(case, c.reference).atol for c in verdict.checks)
    assert all(c.atol >= FLOAT32.for_case(case).atol for c in verdict.checks)
    assert any(c.atol == FLOAT32.for_case(case).atol for c in verdict.checks)
    float64_loss = compute_trace(parse_case(_document())).loss
    assert compute_trace(case).loss != float64_loss  # it really ran in float32
