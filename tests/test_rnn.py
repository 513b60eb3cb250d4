"""The RNN's hand-written BPTT against torch.nn.RNN and against finite differences.

Hypothesis draws the shape first (input, hidden, output sizes, T, batch, nonlinearity,
readout, loss, h0, biases, truncation), then the numbers from a seed. The checker and its
tolerance policy judge; these tests only say that every row passed.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cases import parse_case
from helpers import failed_rows
from refbp.check import check_case
from refbp.check.tolerance import POLICY
from refbp.nn import compute_trace
from refbp.nn.rnn import RNN

LOSS_OUTPUT = {
    "half_sse": ("identity", "tanh", "sigmoid", "softmax"),
    "sse": ("identity", "tanh", "leaky_relu"),
    "mse": ("identity", "sigmoid", "softplus"),
    "cross_entropy": ("identity",),
    "bce": ("sigmoid",),
}


@st.composite
def rnn_documents(draw, max_size: int = 5, max_steps: int = 7, max_batch: int = 3):
    """A small `refbp-case/1` RNN document; weights scaled so that tanh stays away from saturation."""
    input_size, hidden, output = (draw(st.integers(1, max_size)) for _ in range(3))
    steps, batch = draw(st.integers(1, max_steps)), draw(st.integers(1, max_batch))
    loss = draw(st.sampled_from(sorted(LOSS_OUTPUT)))
    activation = draw(st.sampled_from(LOSS_OUTPUT[loss]))
    if loss == "cross_entropy" or activation == "softmax":
        output = max(output, 2)  # one class or a softmax over one unit has no gradient to check
    readout = draw(st.sampled_from(["every_step", "last_step"]))
    seed = draw(st.integers(0, 2**32 - 1))
    network = {"kind": "rnn", "input_size": input_size, "hidden_size": hidden, "output_size": output,
               "nonlinearity": draw(st.sampled_from(["tanh", "relu"])), "output_activation": activation,
               "readout": readout, "bias": draw(st.booleans()), "readout_bias": draw(st.booleans())}
    if draw(st.booleans()):
        network["truncate"] = draw(st.integers(1, max_steps))
    targets = {"cross_entropy": draw(st.sampled_from(["classes", "simplex"])), "bce": "uniform"}.get(
        loss, "simplex" if activation == "softmax" else "normal")
    document = {
        "format": "refbp-case/1", "id": "hypothesis-rnn", "network": network, "loss": loss,
        "params": {"init": {"scheme": "normal", "seed": seed, "scale": draw(st.floats(0.1, 0.6))}},
        "inputs": {"random": {"seed": seed + 1, "distribution": "normal", "batch": batch, "steps": steps}},
        "targets": {"random": {"seed": seed + 2, "distribution": targets}},
    }
    if draw(st.booleans()):
        document["h0"] = np.random.default_rng(seed + 3).uniform(-0.8, 0.8, (batch, hidden)).tolist()
    return document


def describe_failures(verdict) -> str:
    return "; ".join(f"{c.quantity} {c.tensor} vs {c.reference}: {c.note}" for c in failed_rows(verdict))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rnn_documents())
def test_rnn_matches_torch_rnn_and_finite_differences(document):
    verdict = check_case(parse_case(document), oracles=("torch", "fd"))
    assert verdict.passed, describe_failures(verdict)
    references = {c.reference for c in verdict.checks}
    assert references == {"torch-autograd", "finite-difference"}
    judged = {(c.quantity, c.tensor) for c in verdict.checks}
    assert ("grads", "rnn.weight_hh") in judged and ("intermediates", "rnn.net") in judged
    if "h0" in document:
        assert ("input_grads", "h0") in judged


@settings(max_examples=10, deadline=None)
@given(rnn_documents(max_steps=5))
def test_training_matches_torch_optim(document):
    document["train"] = {"optimizer": "adam", "lr": 0.02, "steps": 3}
    verdict = check_case(parse_case(document), oracles=("torch",))
    assert verdict.passed, describe_failures(verdict)
    assert any(c.quantity == "params_after" for c in verdict.checks)


def _document(**network):
    base = {"kind": "rnn", "input_size": 2, "hidden_size": 3, "output_size": 2}
    base.update(network)
    return {"format": "refbp-case/1", "id": "unit-rnn", "network": base, "loss": "mse",
            "params": {"init": {"scheme": "normal", "seed": 5, "scale": 0.5}},
            "inputs": {"random": {"seed": 6, "distribution": "normal", "batch": 2, "steps": 9}},
            "targets": {"random": {"seed": 7, "distribution": "normal"}}}


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
    assert all(c.atol == POLICY[("float32", c.reference)].atol for c in verdict.checks)
    float64_loss = compute_trace(parse_case(_document())).loss
    assert compute_trace(case).loss != float64_loss  # it really ran in float32
