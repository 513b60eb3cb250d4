"""Layer checks (issue 28, items 1 and 6): a layers module written in CS231n's functional style or
numpy-ml's object style is checked from its declaration alone; the correct ones pass every input
set (fairness), and each buggy variant is named with the tensor and the classic bug (teeth)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from refbp.layer import DeclarationError, bind, check_layers, load_declaration

LAYERS = Path(__file__).resolve().parents[1] / "examples" / "layers"


def failures(spec: str) -> tuple[list, set]:
    verdicts = check_layers(load_declaration(spec), spec)
    failed = [v for v in verdicts if v.state.value != "pass"]
    return failed, {(c.tensor, c.diagnosis) for v in failed for c in v.checks if not c.passed}


@pytest.mark.parametrize("module", ["cs231n_layers", "numpy_ml_layers"])
def test_correct_layers_pass_every_input_set(module):
    verdicts = check_layers(load_declaration(str(LAYERS / f"{module}.py")), module)
    assert verdicts and all(v.state.value == "pass" for v in verdicts), [
        (v.case, [(c.tensor, c.reference, c.max_rel_err) for c in v.failed_checks()], v.errors)
        for v in verdicts
        if v.state.value != "pass"
    ]
    labels = {v.case for v in verdicts}
    assert {"layer:affine-b1-ordinary", "layer:relu-b4-near_kink"} <= labels  # batch 1, values near the kink
    if module == "cs231n_layers":
        assert {"layer:softmax_cross_entropy-b4-large", "layer:rnn-b4-ordinary", "layer:rnn_step-b1-tiny"} <= labels


@pytest.mark.parametrize(
    "module, named",
    [
        ("cs231n_bug_bias", {("affine.b", "bias-not-summed-over-batch")}),
        ("cs231n_bug_relu", {("relu.x", "dout-not-multiplied")}),
        ("cs231n_bug_sigmoid", {("sigmoid.x", "activation-derivative:sigmoid-on-net")}),
        ("numpy_ml_bug_transposed", {("affine.w", "transposed")}),
        ("numpy_ml_bug_tanh", {("tanh.x", "activation-derivative:tanh-on-net")}),
        ("numpy_ml_bug_softmax", {("softmax.x", "activation-derivative:softmax-elementwise")}),
    ],
)
def test_each_buggy_layer_is_named_with_its_tensor_and_bug(module, named):
    failed, found = failures(str(LAYERS / f"{module}.py"))
    assert failed and found == named
    function = next(iter(named))[0].split(".")[0]
    assert all(v.case.startswith(f"layer:{function}-") for v in failed)  # the other layers still pass


def test_weights_laid_out_out_in_and_a_wrong_forward_is_told_apart():
    class Dense:
        def __init__(self, n_in, n_out):
            self.W, self.b = None, None

        def forward(self, x):
            self.x = x
            return x @ self.W.T + self.b

        def backward(self, dout):
            self.dW, self.db = dout.T @ self.x, dout.sum(axis=0)
            return dout @ self.W

    class WrongForward(Dense):
        def forward(self, x):
            return 2.0 * super().forward(x)  # its forward is off; its backward is the true gradient

    assert all(v.passed for v in check_layers(bind({"preset": "object", "layers": {"affine": Dense}}), "dense"))
    verdicts = check_layers(bind({"preset": "object", "layers": {"affine": WrongForward}}), "wrong")
    rows = [c for v in verdicts for c in v.failed_checks()]
    assert {c.quantity for c in rows if c.reference == "torch-autograd"} == {"outputs"}
    assert {c.diagnosis for c in rows if c.reference == "own-forward-fd"} <= {"forward-mismatch"}


def test_nnfs_style_objects_are_read_from_their_attributes():
    class LayerDense:
        def __init__(self, n_inputs, n_neurons):
            self.weights, self.biases = np.zeros((n_inputs, n_neurons)), np.zeros((1, n_neurons))

        def forward(self, inputs):
            self.inputs, self.output = inputs, inputs @ self.weights + self.biases

        def backward(self, dvalues):
            self.dweights, self.dbiases = self.inputs.T @ dvalues, dvalues.sum(axis=0, keepdims=True)
            self.dinputs = dvalues @ self.weights.T

    verdicts = check_layers(bind({"preset": "nnfs", "layers": {"affine": LayerDense}}), "nnfs")
    assert verdicts and all(v.passed for v in verdicts)


def test_a_crash_names_the_file_and_line():
    def relu_forward(x):
        return np.maximum(x, 0), x

    def relu_backward(dout, cache):
        return dout * cache["mask"]  # the cache is an array

    verdicts = check_layers(bind({"preset": "cs231n", "layers": {"relu": (relu_forward, relu_backward)}}), "x")
    error = verdicts[0].errors[0]
    assert verdicts[0].error_kind == "crash" and "IndexError" in error and "test_layer_checks.py:" in error
    assert "in relu_backward" in error


@pytest.mark.parametrize(
    "declaration, problem",
    [
        ({"layers": {"swish": ("a", "b")}}, "'swish' is not a function"),
        ({"preset": "keras", "layers": {"relu": ("a", "b")}}, "known presets"),
        ({"layers": {"relu": ("missing_forward", "b")}}, "not a callable of the module"),
        ({"layers": {}}, "`layers` must map"),
        ({"style": "object", "layers": {"rnn": object}}, "functional style"),
    ],
)
def test_bad_declarations_are_one_line_usage_errors(declaration, problem):
    with pytest.raises(DeclarationError, match=problem):
        bind(declaration, module=None)
