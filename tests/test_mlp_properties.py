"""Property tests: over MLP shapes, activations, losses, batches, dtypes, optimizers and value
ranges (drawn by refbp.testing.strategies), refbp agrees with torch autograd and with finite
differences under the tolerance policy."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from refbp.check import check_case
from refbp.testing import assert_matches_torch
from refbp.testing.strategies import mlp_cases, rnn_cases, value_ranges

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _failures(verdict):
    return [
        (c.reference, c.quantity, c.tensor, c.worst_index, c.max_abs_err, c.note)
        for c in verdict.checks
        if not c.passed
    ]


@SETTINGS
@given(mlp_cases(dtypes=("float64", "float32")))  # float16, bfloat16: tests/test_precision*.py
def test_refbp_matches_torch(case):
    assert_matches_torch(case)


@SETTINGS
@given(mlp_cases(max_depth=3, max_width=5, max_batch=6, train=False))
def test_refbp_backward_matches_its_forward(case):
    verdict = check_case(case, oracles=("fd",))
    assert verdict.passed, _failures(verdict)
    assert {c.quantity for c in verdict.checks} == {"grads"}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value_ranges().flatmap(lambda values: mlp_cases(values=values, train=False) | rnn_cases(values=values)))
def test_refbp_matches_torch_on_large_tiny_and_near_kink_values(case):
    """Saturated sigmoids and softmaxes, exps that would overflow, nets at a relu's kink:
    refbp's stable forms agree with torch's."""
    assert_matches_torch(case)
