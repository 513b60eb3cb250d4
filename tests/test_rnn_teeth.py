"""Teeth: plant each classic BPTT bug in refbp's RNN and show that the checker names the broken
tensor, and the diagnosis the bug (its id in refbp.diagnosis.catalogue).

Each bug is a subclass of refbp's RNN put in place of the real one for one test
(`refbp.nn.runner.build_model` looks the class up in `refbp.nn.rnn` at every call).
"""

from __future__ import annotations

import pytest

import refbp.nn.rnn as rnn_module
from helpers import diagnoses, failed_rows
from refbp.cases import parse_case
from refbp.check import check_case

DOCUMENT = {
    "format": "refbp-case/1",
    "id": "teeth-rnn",
    "network": {
        "kind": "rnn",
        "input_size": 3,
        "hidden_size": 4,
        "output_size": 2,
        "nonlinearity": "tanh",
        "readout": "every_step",
    },
    "loss": "mse",
    "params": {"init": {"scheme": "normal", "seed": 11, "scale": 0.5}},
    "inputs": {"random": {"seed": 12, "distribution": "normal", "batch": 3, "steps": 6}},
    "targets": {"random": {"seed": 13, "distribution": "normal"}},
    "h0": [[0.3, -0.2, 0.1, 0.5], [0.0, 0.4, -0.6, 0.2], [-0.1, 0.1, 0.7, -0.3]],
}


# The ids of refbp.diagnosis's catalogue that the bugs planted here get.
NAMED = {"bptt-off-by-one", "recurrent-term-missing", "truncated:2", "missing"}


class OffByOneInTimeLoop(rnn_module.RNN):
    """The backward loop stops at t = 1: the first step never gets its error signal."""

    def through_time(self, xp, params, cache, grad_readout_inputs):
        steps = cache.nets.shape[1]
        carried = None
        grad_nets = [xp.zeros_like(cache.nets[:, 0, :]) for _ in range(steps)]
        grad_states = list(grad_nets)
        for t in range(steps - 1, 0, -1):  # the bug: range(steps - 1, -1, -1)
            grad_h = grad_readout_inputs[:, t, :]
            if carried is not None:
                grad_h = grad_h + carried
            grad_nets[t] = self.nonlinearity.backward(xp, cache.nets[:, t, :], cache.states[:, t, :], grad_h)
            grad_states[t] = grad_h
            carried = self.recurrent_backward(xp, grad_nets[t], params["rnn.weight_hh"])
        return rnn_module.ThroughTime(xp.stack(grad_nets, axis=1), xp.stack(grad_states, axis=1), carried)


class ForgetsRecurrentTerm(rnn_module.RNN):
    """dE/dh_t takes the readout's gradient only, not dE/dnet_{t+1} @ W_hh."""

    def recurrent_backward(self, xp, grad_net, weight_hh):
        return xp.zeros_like(grad_net)


class CurrentStateInWeightHH(rnn_module.RNN):
    """dE/dW_hh = sum dnet_t h_t^T instead of dnet_t h_{t-1}^T."""

    def previous_states(self, xp, cache):
        return cache.states


class TruncatesEveryTwoSteps(rnn_module.RNN):
    """Truncated BPTT (every 2 steps) where the case asks for backpropagation through every step."""

    def detached_before(self, t):
        return t > 0 and t % 2 == 0


class DropsBiasHH(rnn_module.RNN):
    """The forward adds b_ih but forgets b_hh (the backward still reports a gradient for it)."""

    def step_bias(self, params):
        return params["rnn.bias_ih"]


class OmitsBiasHHGradient(rnn_module.RNN):
    """The backward returns no gradient for b_hh at all."""

    def backward(self, xp, params, cache, grad_output, need_input_grads=False):
        backward = super().backward(xp, params, cache, grad_output, need_input_grads)
        del backward.grads["rnn.bias_hh"]
        return backward


class TruncatesOneStepLate(rnn_module.RNN):
    """Truncated BPTT with the cut one step after torch's detach()."""

    def detached_before(self, t):
        k = self.network.truncate
        return k is not None and t > 1 and (t - 1) % k == 0


def _verdict(bug, monkeypatch, document=DOCUMENT):
    monkeypatch.setattr(rnn_module, "RNN", bug)
    verdict = check_case(parse_case(document), oracles=("torch", "fd"))
    assert not verdict.passed
    return verdict


def _failed(bug, monkeypatch, document=DOCUMENT):
    return {(c.quantity, c.tensor, c.reference) for c in failed_rows(_verdict(bug, monkeypatch, document))}


def test_the_untouched_rnn_passes():
    assert check_case(parse_case(DOCUMENT), oracles=("torch", "fd")).passed


@pytest.mark.parametrize(
    "bug, broken, intact",
    [
        (OffByOneInTimeLoop, ["rnn.weight_ih", "rnn.weight_hh", "rnn.bias_hh"], ["readout.weight"]),
        (ForgetsRecurrentTerm, ["rnn.weight_ih", "rnn.weight_hh", "rnn.bias_ih"], ["readout.weight"]),
        (CurrentStateInWeightHH, ["rnn.weight_hh"], ["rnn.weight_ih", "rnn.bias_hh", "readout.weight"]),
    ],
)
def test_gradient_bugs_are_named_by_both_references(monkeypatch, bug, broken, intact):
    failed = _failed(bug, monkeypatch)
    for tensor in broken:
        assert ("grads", tensor, "torch-autograd") in failed
        assert ("grads", tensor, "finite-difference") in failed
    for tensor in intact:
        assert ("grads", tensor, "torch-autograd") not in failed


@pytest.mark.parametrize(
    "bug, truncate, diagnosis",
    [
        (OffByOneInTimeLoop, None, "bptt-off-by-one"),
        (CurrentStateInWeightHH, None, "bptt-off-by-one"),
        (TruncatesOneStepLate, 2, "bptt-off-by-one"),
        (ForgetsRecurrentTerm, None, "recurrent-term-missing"),
        (TruncatesEveryTwoSteps, None, "truncated:2"),
    ],
)
def test_each_bptt_bug_is_named(monkeypatch, bug, truncate, diagnosis):
    document = {**DOCUMENT, "network": {**DOCUMENT["network"], "truncate": truncate}} if truncate else DOCUMENT
    verdict = _verdict(bug, monkeypatch, document)
    assert diagnoses(verdict, "grads") == {diagnosis}
    assert diagnoses(verdict, "grads", reference="finite-difference") == {diagnosis}


def test_a_missing_gradient_is_diagnosed_missing(monkeypatch):
    assert diagnoses(_verdict(OmitsBiasHHGradient, monkeypatch), "grads") == {"missing"}


def test_off_by_one_also_breaks_the_initial_state_gradient(monkeypatch):
    failed = _failed(OffByOneInTimeLoop, monkeypatch)
    assert ("input_grads", "h0", "torch-autograd") in failed
    assert ("input_grads", "inputs", "torch-autograd") in failed


def test_dropping_bias_hh_in_the_forward_is_caught(monkeypatch):
    failed = _failed(DropsBiasHH, monkeypatch)
    assert ("outputs", "outputs", "torch-autograd") in failed
    assert ("intermediates", "rnn.net", "torch-autograd") in failed
    # refbp's own forward no longer depends on b_hh, its backward says it does:
    assert ("grads", "rnn.bias_hh", "finite-difference") in failed


def test_a_missing_bias_hh_gradient_is_a_failed_row(monkeypatch):
    failed = _failed(OmitsBiasHHGradient, monkeypatch)
    assert ("grads", "rnn.bias_hh", "torch-autograd") in failed
    assert all(tensor == "rnn.bias_hh" for _, tensor, _ in failed)


def test_a_misplaced_truncation_is_caught(monkeypatch):
    document = {**DOCUMENT, "network": {**DOCUMENT["network"], "truncate": 2}}
    failed = _failed(TruncatesOneStepLate, monkeypatch, document)
    assert ("grads", "rnn.weight_hh", "torch-autograd") in failed
