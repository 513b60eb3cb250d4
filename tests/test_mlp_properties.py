"""Property tests: over MLP shapes, activations, losses, batches and optimizers, refbp agrees
with torch autograd and with finite differences under the tolerance policy."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from cases import parse_case
from refbp.check import check_case
from strategies import mlp_documents

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _failures(verdict):
    return [(c.reference, c.quantity, c.tensor, c.worst_index, c.max_abs_err, c.note)
            for c in verdict.checks if not c.passed]


@SETTINGS
@given(mlp_documents())
def test_refbp_matches_torch(document):
    verdict = check_case(parse_case(document), oracles=("torch",))
    assert verdict.passed, _failures(verdict)


@SETTINGS
@given(mlp_documents(max_depth=3, max_width=5, max_batch=6, train=False))
def test_refbp_backward_matches_its_forward(document):
    verdict = check_case(parse_case(document), oracles=("fd",))
    assert verdict.passed, _failures(verdict)
    assert {c.quantity for c in verdict.checks} == {"grads"}
