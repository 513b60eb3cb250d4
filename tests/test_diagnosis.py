"""The diagnosis names each classic bug planted in an implementation: refbp.nn patched (`run`), the
patched trace written as a result file (`verify`), an adapter example (`check`); a correct answer
gets no diagnosis and random noise gets `unknown`; a result with intermediates and error signals
gets the first layer (or step) where it goes wrong.

Every bug is planted in refbp.nn or in an example, never built from the diagnosis's own
re-derivation (that would only show the catalogue matching itself).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import test_diagnosis_extended
import test_rnn_teeth
import test_teeth
from helpers import diagnoses, write_case
from refbp.cases import SUITE_DIR, discover, load_case, parse_case
from refbp.cases.schema import validate
from refbp.check import check_case
from refbp.check.adapter import answer, load_factory
from refbp.check.check_adapter import check_adapter_case
from refbp.check.references import References
from refbp.check.verify import verify_results
from refbp.cli import main
from refbp.diagnosis import CATALOGUE
from refbp.diagnosis.training import derive, train
from refbp.explain_result import MARK
from refbp.nn import activations, compute_trace, dense, losses
from refbp.oracle import torch_reference

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SEED = SUITE_DIR / "seed" / "seed-2-2-2.json"
TANH_MSE = SUITE_DIR / "mlp" / "mlp-tanh-mse-b8-momentum.json"
CE = SUITE_DIR / "mlp" / "mlp-ce-probabilities-b10.json"
BCE = SUITE_DIR / "mlp" / "mlp-bce-b12-adam.json"
RELU_AT_ZERO = {  # example 0 is all zeros and the biases are 0: its hidden nets are exactly 0
    "format": "refbp-case/1",
    "id": "relu-at-zero",
    "network": {"kind": "mlp", "sizes": [3, 4, 2], "activations": ["relu", "identity"]},
    "loss": "half_sse",
    "params": {
        "layers.0.weight": [[0.2, -0.3, 0.5], [0.1, 0.4, -0.2], [-0.6, 0.3, 0.1], [0.3, 0.2, 0.4]],
        "layers.0.bias": [0.0, 0.0, 0.0, 0.0],
        "layers.1.weight": [[0.5, -0.4, 0.3, 0.2], [-0.1, 0.6, 0.2, -0.3]],
        "layers.1.bias": [0.1, -0.2],
    },
    "inputs": [[0.0, 0.0, 0.0], [1.0, -0.5, 0.3], [0.4, 0.9, -0.7]],
    "targets": [[0.5, -0.5], [0.2, 0.1], [-0.3, 0.4]],
}


def _sigmoid_twice(self, xp, net, out):
    again = self.forward(xp, out)
    return again * (1.0 - again)


def _one_path(original):
    def backward(xp, x, weight, *args, **kwargs):
        grads = original(xp, x, weight, *args, **kwargs)
        return grads._replace(inputs=grads.net[:, :1] * weight[:1, :])  # the bug: the path through unit 0 only

    return backward


def _first_example(original):
    def backward(xp, x, weight, *args, **kwargs):
        grads = original(xp, x, weight, *args, **kwargs)  # the bug: example 0's gradient, not the batch's sum
        bias = None if grads.bias is None else grads.net[0]
        return grads._replace(weight=np.outer(grads.net[0], x[0]), bias=bias)

    return backward


def _mse_sum_gradient(self, xp, y, t):
    return 2.0 * (y - t)


def _ce_without_softmax(self, xp, y, t):
    return (y - self.probabilities(xp, y, t)) / (y.size // y.shape[-1])


def _bce_on_logits(self, xp, y, t):
    return (1.0 / (1.0 + np.exp(-y)) - t) / y.size


# (id, case: a file of the suite or a document, (object, attribute, bug) or a dense.backward wrapper)
PLANTED = [
    ("activation-derivative:sigmoid-twice", SEED, (activations.Sigmoid, "derivative", _sigmoid_twice)),
    (
        "activation-derivative:sigmoid-on-net",
        SEED,
        (activations.Sigmoid, "derivative", lambda self, xp, net, out: net * (1.0 - net)),
    ),
    (
        "activation-derivative:tanh-on-net",
        TANH_MSE,
        (activations.Tanh, "derivative", lambda self, xp, net, out: 1.0 - net**2),
    ),
    (
        "activation-derivative:tanh-on-net",
        test_rnn_teeth.DOCUMENT,
        (activations.Tanh, "derivative", lambda self, xp, net, out: 1.0 - net**2),
    ),
    ("loss-gradient:mse-without-mean", TANH_MSE, (losses.MSE, "gradient", _mse_sum_gradient)),
    ("loss-gradient:mse-without-mean", test_rnn_teeth.DOCUMENT, (losses.MSE, "gradient", _mse_sum_gradient)),
    ("loss-gradient:cross-entropy-without-softmax", CE, (losses.CrossEntropy, "gradient", _ce_without_softmax)),
    ("loss-gradient:bce-on-logits", BCE, (losses.BCE, "gradient", _bce_on_logits)),
    ("one-path-only", SEED, _one_path),
    ("not-summed-over-batch", TANH_MSE, _first_example),
]


def _case(source):
    return load_case(source) if isinstance(source, Path) else parse_case(source)


def _plant(monkeypatch, bug):
    if isinstance(bug, tuple):
        monkeypatch.setattr(*bug)
    else:
        monkeypatch.setattr(dense, "backward", bug(dense.backward))


def _result(trace, case, name="planted", **extra) -> dict:
    document = {
        "format": "refbp-result/1",
        "case": case.id,
        "implementation": name,
        "outputs": trace.outputs.tolist(),
        "loss": trace.loss,
        "grads": {k: np.asarray(v).tolist() for k, v in trace.grads.items()},
    }
    if trace.params_after is not None:
        document["params_after"] = {k: np.asarray(v).tolist() for k, v in trace.params_after.items()}
        document["loss_after"] = trace.loss_after
    return {**document, **extra}


def _verify(tmp_path, case, document):
    case_file = write_case(tmp_path, case.document) if case.path is None else case.path
    result = tmp_path / "result.json"
    result.write_text(json.dumps(document))
    (verdict,) = verify_results([result], [case_file], oracles=("torch",)).verdicts
    return verdict


@pytest.mark.parametrize(
    "bug_id, source, bug",
    PLANTED,
    ids=[f"{p[0]}-{'rnn' if isinstance(p[1], dict) and p[1]['network']['kind'] == 'rnn' else 'mlp'}" for p in PLANTED],
)
def test_each_planted_bug_is_named_in_run_and_in_verify(monkeypatch, tmp_path, bug_id, source, bug):
    case = _case(source)
    _plant(monkeypatch, bug)
    verdict = check_case(case, oracles=("torch",))
    assert diagnoses(verdict, "grads") == {bug_id}
    assert all(c.diagnosis_note for c in verdict.failed_checks())
    bugged = compute_trace(case)
    monkeypatch.undo()
    verdict = _verify(tmp_path, case, _result(bugged, case))
    assert diagnoses(verdict, "grads") == {bug_id}


def test_every_catalogued_bug_is_planted_somewhere():
    """The catalogue is the list of bugs the tests plant: each id is produced by some planted bug."""
    planted = {p[0] for p in PLANTED} | test_teeth.NAMED | test_rnn_teeth.NAMED | test_diagnosis_extended.NAMED
    families = {bug.id.replace("<k>", "2") for bug in CATALOGUE}
    assert families <= planted, families - planted


@pytest.fixture(scope="module")
def seed_result():
    case = load_case(SEED)
    return case, compute_trace(case)


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda name, g: 2.0 * g, "scaled:2"),
        (lambda name, g: -g, "sign"),
        (lambda name, g: g.T, "transposed"),
        (lambda name, g: 0.0 * g if name.endswith("bias") else g, "zero"),
    ],
)
def test_closed_form_signatures_of_a_result(tmp_path, seed_result, change, expected):
    case, trace = seed_result
    grads = {name: change(name, g) for name, g in trace.grads.items()}
    verdict = _verify(tmp_path, case, _result(trace, case, grads={k: v.tolist() for k, v in grads.items()}))
    assert not verdict.passed
    assert diagnoses(verdict, "grads") == {expected}


def test_per_example_gradients_and_a_non_square_transpose_are_named_by_shape(tmp_path):
    case = load_case(TANH_MSE)  # layers.0.weight is [hidden, inputs], not square
    trace = compute_trace(case)
    per_example = [np.outer(g_net, x) for g_net, x in zip(trace.error_signals["layers.0.grad_net"], case.inputs)]
    grads = {k: v.tolist() for k, v in trace.grads.items()}
    grads["layers.0.weight"] = np.asarray(per_example).tolist()
    grads["layers.1.weight"] = trace.grads["layers.1.weight"].T.tolist()
    verdict = _verify(tmp_path, case, _result(trace, case, grads=grads))
    assert diagnoses(verdict, "grads", "layers.0.weight") == {"not-summed-over-batch"}
    assert diagnoses(verdict, "grads", "layers.1.weight") == {"transposed"}


def test_a_correct_answer_has_no_diagnosis_and_noise_is_unknown(tmp_path, seed_result):
    case, trace = seed_result
    verdict = _verify(tmp_path, case, _result(trace, case))
    assert verdict.passed and not any(c.diagnosis for c in verdict.checks)
    assert "diagnosis" not in json.dumps(verdict.to_json()) and "first_departure" not in verdict.to_json()
    rng = np.random.default_rng(5)
    noisy = {k: (v * (1.0 + 0.05 * rng.standard_normal(v.shape))).tolist() for k, v in trace.grads.items()}
    verdict = _verify(tmp_path, case, _result(trace, case, grads=noisy))
    assert diagnoses(verdict, "grads") == {"unknown"}


def test_rnn_noise_is_unknown_and_a_doubled_rnn_gradient_is_scaled(tmp_path):
    case = parse_case(test_rnn_teeth.DOCUMENT)
    trace = compute_trace(case)
    rng = np.random.default_rng(6)
    noisy = {k: (v * (1.0 + 0.05 * rng.standard_normal(v.shape))).tolist() for k, v in trace.grads.items()}
    assert diagnoses(_verify(tmp_path, case, _result(trace, case, grads=noisy)), "grads") == {"unknown"}
    doubled = {k: (2.0 * v).tolist() for k, v in trace.grads.items()}
    assert diagnoses(_verify(tmp_path, case, _result(trace, case, grads=doubled)), "grads") == {"scaled:2"}


def test_the_sigmoid_twice_example_is_named_and_says_where_it_starts():
    factory = load_factory(f"{EXAMPLES / 'numpy_mlp_sigmoid_twice.py'}:factory")
    verdict = check_adapter_case(load_case(SEED), factory, "sigmoid twice", oracles=("torch", "fd"))
    grads = {c.diagnosis for c in verdict.failed_checks() if c.quantity == "grads"}
    assert grads == {"activation-derivative:sigmoid-twice"}
    assert verdict.first_departure == "forward right; backward first wrong at layers.1 (dL/dnet)"
    document = verdict.to_json()
    validate(document, "verdict", "verdict.json")
    assert document["first_departure"] == verdict.first_departure


def _signals_result(case, trace, **changes) -> dict:
    intermediates = {k: np.asarray(v).tolist() for k, v in trace.intermediates.items()}
    signals = {k: np.asarray(v).tolist() for k, v in trace.error_signals.items()}
    for name, value in changes.items():
        (signals if "grad" in name else intermediates)[name.replace("__", ".")] = value
    return _result(trace, case, intermediates=intermediates, error_signals=signals)


def test_a_result_with_intermediates_and_error_signals_gets_where_it_starts(tmp_path, monkeypatch):
    case = load_case(TANH_MSE)
    monkeypatch.setattr(activations.Tanh, "derivative", lambda self, xp, net, out: 1.0 - net**2)
    bugged = compute_trace(case)
    monkeypatch.undo()
    verdict = _verify(tmp_path, case, _signals_result(case, bugged))
    # tanh, then identity: the output layer's error signals are right, the hidden layer's slope is not
    assert verdict.first_departure == "forward right; backward first wrong at layers.0 (dL/dnet)"
    net = (np.asarray(bugged.intermediates["layers.0.net"]) + 0.01).tolist()
    verdict = _verify(tmp_path, case, _signals_result(case, bugged, layers__0__net=net))
    assert verdict.first_departure.startswith("forward first wrong at layers.0 (net)")
    assert ("intermediates", "layers.0.net") in {(c.quantity, c.tensor) for c in verdict.failed_checks()}


def test_an_rnn_result_gets_the_first_step_where_its_backward_goes_wrong(tmp_path, monkeypatch):
    case = parse_case(test_rnn_teeth.DOCUMENT)  # 6 steps
    monkeypatch.setattr(test_rnn_teeth.rnn_module, "RNN", test_rnn_teeth.ForgetsRecurrentTerm)
    bugged = compute_trace(case)
    monkeypatch.undo()
    verdict = _verify(tmp_path, case, _signals_result(case, bugged))
    assert diagnoses(verdict, "grads") == {"recurrent-term-missing"}
    # the last step has no later step to hear from: it is right; the one before it is the first wrong
    assert verdict.first_departure == "forward right; backward first wrong at step 4 (dL/dh_5)"


def test_an_error_signal_of_the_wrong_shape_is_bad_input(tmp_path, seed_result):
    case, trace = seed_result
    verdict = _verify(tmp_path, case, _signals_result(case, trace, layers__0__grad_net=[[1.0]]))
    assert verdict.error_kind == "input" and "error_signals.layers.0.grad_net" in verdict.errors[0]


def test_explain_lays_the_reference_beside_the_result_and_marks_the_first_difference(tmp_path, capsys):
    case = load_case(SEED)
    given = answer(load_factory(f"{EXAMPLES / 'numpy_mlp_sigmoid_twice.py'}:factory"), case).trace
    path = tmp_path / "twice.json"
    path.write_text(json.dumps(_signals_result(case, given)))
    assert main(["explain", "seed-2-2-2", "--param", "w5", "--result", str(path)]) == 0
    marked = [line for line in capsys.readouterr().out.splitlines() if MARK in line]
    # the first factor that differs is the local slope: out(1 - out) = 0.186815602 in the reference
    assert len(marked) == 1 and "where the reference has 0.186815602" in marked[0]
    assert main(["explain", "seed-2-2-2", "--param", "w5", "--result", str(tmp_path / "missing.json")]) == 2


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda name, g: 2.0 * g, "scaled:2"),
        (lambda name, g: -g, "sign"),
        (lambda name, g: g.T, "transposed"),
        (lambda name, g: 0.0 * g if name.endswith("bias") else g, "zero"),
    ],
)
def test_closed_form_signatures_through_the_adapter(change, expected):
    correct = load_factory(f"{EXAMPLES / 'numpy_mlp.py'}:factory")

    class Changed:
        def __init__(self, document):
            self.inner = correct(document)

        def forward(self, *args):
            return self.inner.forward(*args)

        def loss(self, *args):
            return self.inner.loss(*args)

        def gradients(self, *args):
            return {name: change(name, g) for name, g in self.inner.gradients(*args).items()}

    verdict = check_adapter_case(load_case(SEED), Changed, "changed", oracles=("torch", "fd"))
    assert {c.diagnosis for c in verdict.failed_checks()} == {expected}


@pytest.mark.parametrize("path", sorted(discover([SUITE_DIR])), ids=lambda p: p.stem)
def test_the_re_derivation_agrees_with_torch_on_every_shipped_case(path):
    """The diagnosis's correct reference is a reference: torch autograd and torch.optim agree with it."""
    case = load_case(path)
    ours, torch_trace = derive(case), torch_reference.trace(case)
    close = dict(rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(ours.outputs, torch_trace.outputs, **close)
    admissible = References().admissible(case, "")
    # Where a unit sits at its kink or a bce output saturates, a gradient is admissible anywhere
    # the conventions span (docs/formats.md 4.2); elsewhere that span is torch's value itself.
    for quantity in ("grads", "input_grads"):
        for name in getattr(torch_trace, quantity):
            value = getattr(ours, quantity)[name]
            nearest, _ = admissible.nearest(quantity, name, value, 1e-10, 1e-9)
            np.testing.assert_allclose(value, nearest, **close, err_msg=name)
    nearest, _ = admissible.nearest("loss", "loss", ours.loss, 1e-10, 1e-9)
    np.testing.assert_allclose(ours.loss, nearest, **close)
    if case.train is not None:
        params_after, loss_after = train(case)
        np.testing.assert_allclose(loss_after, torch_trace.loss_after, **close)
        for name in params_after:
            np.testing.assert_allclose(params_after[name], torch_trace.params_after[name], **close, err_msg=name)


RELU_SLOPE_ONE_AT_ZERO = (activations.ReLU, "backward", lambda self, xp, net, out, g: xp.where(net >= 0, g, 0.0))


def test_relu_slope_one_at_zero_is_a_convention_not_a_bug(monkeypatch, tmp_path):
    """relu'(0) = 1 (the right derivative) passes by default, with the row naming it, and under
    --conventions torch fails with the diagnosis `convention`, not a bug of the catalogue."""
    case = _case(RELU_AT_ZERO)
    _plant(monkeypatch, RELU_SLOPE_ONE_AT_ZERO)
    verdict = check_case(case, oracles=("torch",))
    assert verdict.passed and any("relu'(0) = 1" in c.convention for c in verdict.checks)
    strict = check_case(case, oracles=("torch",), conventions="torch")
    assert not strict.passed and diagnoses(strict, "grads") == {"convention"}
    assert all("relu'(0) = 1" in c.diagnosis_note for c in strict.failed_checks())


def test_relu_slope_two_at_zero_fails(monkeypatch):
    case = _case(RELU_AT_ZERO)
    _plant(
        monkeypatch,
        (
            activations.ReLU,
            "backward",
            lambda self, xp, net, out, g: xp.where(net > 0, g, xp.where(net == 0, 2.0 * g, 0.0)),
        ),
    )
    verdict = check_case(case, oracles=("torch",))
    assert not verdict.passed and "convention" not in diagnoses(verdict, "grads")


def test_a_published_row_never_says_the_answer_matches_the_definition_when_it_does_not(monkeypatch):
    """A published row's atol is its widest entry's printed-digit allowance (0.05 for a value printed
    with one decimal): the diagnosis once took the answer within that of the definition and said
    it 'matches the definition' for a sigmoid slope taken of the net (a new user's trial)."""
    case = load_case(SUITE_DIR / "published" / "han-kamber-3-2-1-sigmoid.json")
    _plant(monkeypatch, (activations.Sigmoid, "derivative", lambda self, xp, net, out: net * (1.0 - net)))
    verdict = check_case(case)
    published = [c for c in verdict.failed_checks() if c.reference == "expected"]
    assert published
    assert not any("matches the definition" in c.diagnosis_note for c in published)
