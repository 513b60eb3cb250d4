"""The checker has teeth: each realistic bug, injected into refbp, is reported by the references
and named by the diagnosis.

Each test patches one piece of the implementation under test, runs the checker on a case
of the suite, and asserts which reference reports which tensor, and which id of the bug
catalogue (refbp.diagnosis.catalogue) or closed-form signature the failed rows get. The same
checks run unpatched must pass (test_unpatched_cases_pass), so every failure here is the bug's.
"""

from __future__ import annotations

import numpy as np
import pytest

from helpers import diagnoses, failed_rows
from refbp.cases import SUITE_DIR, load_case
from refbp.check import check_case
from refbp.nn import activations, dense, losses, optim, runner

SEED = SUITE_DIR / "seed" / "seed-2-2-2.json"
MSE_MOMENTUM = SUITE_DIR / "mlp" / "mlp-tanh-mse-b8-momentum.json"
SOFTMAX = SUITE_DIR / "mlp" / "mlp-softmax-output-mse-b8.json"
ADAM = SUITE_DIR / "mlp" / "mlp-bce-b12-adam.json"
# The ids of refbp.diagnosis's catalogue (and closed-form signatures) that the bugs planted here get.
NAMED = {
    "activation-derivative:sigmoid-on-net",
    "transposed",
    "zero",
    "scaled:2",
    "scaled:N",
    "forward-mismatch",
    "update-before-all-gradients",
    "activation-derivative:softmax-elementwise",
    "momentum-rule",
    "adam-bias-correction",
    "entries:1",
}


def run(path):
    return check_case(load_case(path))


def tensors(rows):
    return {(r.quantity, r.tensor) for r in rows}


@pytest.mark.parametrize("path", [SEED, MSE_MOMENTUM, SOFTMAX, ADAM])
def test_unpatched_cases_pass(path):
    assert run(path).passed


def test_wrong_sigmoid_derivative(monkeypatch):
    # The classic slip: f'(e) written with the net e instead of the out f(e).
    monkeypatch.setattr(activations.Sigmoid, "derivative", lambda self, xp, net, out: net * (1.0 - net))
    verdict = run(SEED)
    assert not verdict.passed
    for reference in ("torch-autograd", "finite-difference", "expected"):
        assert ("grads", "layers.1.weight") in tensors(failed_rows(verdict, reference)), reference
    # the published dE/dw5 is the row that names the entry
    row = next(r for r in failed_rows(verdict, "expected", "grads") if r.tensor == "layers.1.weight")
    assert row.worst_index == [0, 0]
    assert diagnoses(verdict, "grads") == {"activation-derivative:sigmoid-on-net"}


def test_transposed_weight_gradient(monkeypatch):
    original = dense.backward

    def transposed(*args, **kwargs):
        grads = original(*args, **kwargs)
        return grads._replace(weight=grads.weight.T)  # dL/dW^T: same shape on a square layer

    monkeypatch.setattr(dense, "backward", transposed)
    verdict = run(SEED)
    for reference in ("torch-autograd", "finite-difference"):
        found = tensors(failed_rows(verdict, reference, "grads"))
        assert {("grads", "layers.0.weight"), ("grads", "layers.1.weight")} <= found, reference
    assert diagnoses(verdict, "grads") == {"transposed"}


def test_missing_bias_gradient(monkeypatch):
    original = dense.backward

    def no_bias(*args, **kwargs):
        grads = original(*args, **kwargs)
        return grads._replace(bias=0.0 * grads.bias) if grads.bias is not None else grads

    monkeypatch.setattr(dense, "backward", no_bias)
    verdict = run(MSE_MOMENTUM)
    for reference in ("torch-autograd", "finite-difference"):
        found = tensors(failed_rows(verdict, reference, "grads"))
        assert found == {("grads", "layers.0.bias"), ("grads", "layers.1.bias")}, reference
    assert ("params_after", "layers.1.bias") in tensors(failed_rows(verdict, "torch-autograd"))
    assert diagnoses(verdict, "grads") == {"zero"}


def test_missing_bias_term_in_forward(monkeypatch):
    original = dense.forward
    monkeypatch.setattr(
        dense, "forward", lambda xp, x, weight, bias, activation: original(xp, x, weight, None, activation)
    )
    verdict = run(SEED)
    torch_rows = tensors(failed_rows(verdict, "torch-autograd"))
    assert {("outputs", "outputs"), ("loss", "loss"), ("intermediates", "layers.0.net")} <= torch_rows
    # refbp's backward still sums dL/dnet into the bias; its own (biasless) forward says 0
    assert ("grads", "layers.0.bias") in tensors(failed_rows(verdict, "finite-difference"))
    assert ("outputs", "outputs") in tensors(failed_rows(verdict, "expected"))


def test_half_sse_and_sse_confused(monkeypatch):
    # The loss is the seed's 1/2 (t - y)^2, but the gradient of (t - y)^2 is sent back.
    monkeypatch.setattr(losses.HalfSSE, "gradient", lambda self, xp, y, t: 2.0 * (y - t))
    verdict = run(SEED)
    for reference in ("torch-autograd", "finite-difference"):
        assert {("grads", f"layers.{i}.{p}") for i in (0, 1) for p in ("weight", "bias")} <= tensors(
            failed_rows(verdict, reference, "grads")
        ), reference
    assert diagnoses(verdict, "grads") == {"scaled:2"}
    assert ("params_after", "layers.1.weight") in tensors(failed_rows(verdict, "expected"))


def test_wrong_loss_scale(monkeypatch):
    # mse's value summed instead of averaged: the loss itself is wrong, its gradient right.
    monkeypatch.setattr(losses.MSE, "value", lambda self, xp, y, t: xp.sum((t - y) ** 2))
    verdict = run(MSE_MOMENTUM)
    assert ("loss", "loss") in tensors(failed_rows(verdict, "torch-autograd"))
    assert ("loss_after", "loss") in tensors(failed_rows(verdict, "torch-autograd"))
    # refbp's backward no longer matches refbp's own forward
    assert failed_rows(verdict, "finite-difference", "grads")
    assert diagnoses(verdict, "loss") == {"scaled:N"}
    assert diagnoses(verdict, "grads", reference="finite-difference") == {"forward-mismatch"}


def test_update_before_all_gradients_are_taken(monkeypatch):
    def eager_train(xp, model, loss, params, inputs, targets, h0, config, first_grads=None):
        # BUG: each layer is updated as soon as its gradient is known, so the error sent
        # to the layer below goes through the already-updated weights.
        params = dict(params)
        for _ in range(config.steps):
            cache = model.forward(xp, params, inputs)
            grad_out = loss.gradient(xp, cache.outputs, targets)
            for i in reversed(range(len(model.activations))):
                x = cache.inputs if i == 0 else cache.outs[i - 1]
                layer = dense.backward(
                    xp,
                    x,
                    params[f"layers.{i}.weight"],
                    cache.nets[i],
                    cache.outs[i],
                    grad_out,
                    model.activations[i],
                    has_bias=model.network.bias,
                )
                for name, g in ((f"layers.{i}.weight", layer.weight), (f"layers.{i}.bias", layer.bias)):
                    if name in params and name not in config.frozen:
                        params[name] = params[name] - config.lr * g
                grad_out = layer.net @ params[f"layers.{i}.weight"]
        return params

    monkeypatch.setattr(runner, "train", eager_train)
    verdict = run(SEED)
    assert tensors(failed_rows(verdict, "torch-autograd", "params_after")) == {("params_after", "layers.0.weight")}
    expected = failed_rows(verdict, "expected", "params_after")
    assert tensors(expected) == {("params_after", "layers.0.weight")}
    # the gradients at the initial parameters were right: only the update order is wrong
    assert not failed_rows(verdict, quantity="grads")
    assert diagnoses(verdict, "params_after") == {"update-before-all-gradients"}


def test_transposed_input_gradient(monkeypatch):
    original = dense.backward

    def transposed_inputs(xp, x, weight, *args, **kwargs):
        grads = original(xp, x, weight, *args, **kwargs)
        return grads._replace(inputs=grads.net @ weight.T) if grads.inputs is not None else grads

    monkeypatch.setattr(dense, "backward", transposed_inputs)
    verdict = run(SEED)
    found = tensors(failed_rows(verdict, "torch-autograd"))
    assert ("input_grads", "inputs") in found and ("grads", "layers.0.weight") in found
    assert diagnoses(verdict, "grads") == diagnoses(verdict, "input_grads") == {"transposed"}


def test_softmax_treated_as_elementwise(monkeypatch):
    # Using s(1 - s) (the diagonal only) instead of the softmax Jacobian.
    monkeypatch.setattr(
        activations.Softmax, "backward", lambda self, xp, net, out, grad_out: grad_out * out * (1.0 - out)
    )
    verdict = run(SOFTMAX)
    for reference in ("torch-autograd", "finite-difference"):
        assert ("grads", "layers.1.weight") in tensors(failed_rows(verdict, reference, "grads")), reference
    assert diagnoses(verdict, "grads") == {"activation-derivative:softmax-elementwise"}


def test_momentum_buffer_dampened(monkeypatch):
    def dampened_step(self, xp, params, grads, names):
        updated = dict(params)
        for name in names:
            buf = self.buffers.get(name)
            # BUG: (1 - momentum) dampening, which torch.optim.SGD does not apply by default
            g = grads[name] if buf is None else self.momentum * buf + (1 - self.momentum) * grads[name]
            self.buffers[name] = g
            updated[name] = params[name] - self.lr * g
        return updated

    monkeypatch.setattr(optim.SGD, "step", dampened_step)
    verdict = run(MSE_MOMENTUM)
    rows = failed_rows(verdict, "torch-autograd")
    assert {r.quantity for r in rows} == {"params_after", "loss_after"}
    assert diagnoses(verdict, "params_after") == {"momentum-rule"}


def test_adam_without_bias_correction(monkeypatch):
    original = optim.Adam.step

    def uncorrected(self, xp, params, grads, names):
        self.t = 10**6  # 1 - beta^t == 1: the bias correction vanishes
        return original(self, xp, params, grads, names)

    monkeypatch.setattr(optim.Adam, "step", uncorrected)
    verdict = run(ADAM)
    assert {r.quantity for r in failed_rows(verdict, "torch-autograd")} == {"params_after", "loss_after"}
    assert diagnoses(verdict, "params_after") == {"adam-bias-correction"}


def test_a_failing_row_names_tensor_and_entry(monkeypatch):
    original = dense.backward

    def one_entry_off(*args, **kwargs):
        grads = original(*args, **kwargs)
        weight = np.array(grads.weight)
        if weight.shape == (2, 2):
            weight[1, 0] *= 1.001  # one entry off by 1e-3 relative
        return grads._replace(weight=weight)

    monkeypatch.setattr(dense, "backward", one_entry_off)
    verdict = run(SEED)
    rows = failed_rows(verdict, "finite-difference", "grads")
    assert {(r.tensor, tuple(r.worst_index)) for r in rows} == {
        ("layers.0.weight", (1, 0)),
        ("layers.1.weight", (1, 0)),
    }
    assert all(r.max_rel_err == pytest.approx(1e-3, rel=1e-2) for r in rows)
    assert diagnoses(verdict, "grads") == {"entries:1"}
    assert "layers.0.weight[1][0]" in next(r for r in rows if r.tensor == "layers.0.weight").diagnosis_note
