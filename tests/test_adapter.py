"""`refbp check --impl`: the examples judged through the adapter protocol, in process.

The correct numpy MLP and the torch.autograd.Function example pass; the sigmoid-on-net bug
fails with the tensor named, against torch and against its own forward; a forward that is
wrong in step with its backward passes its own finite differences and fails torch; RNN
cases are not supported, never passed; an implementation that raises fails its case only.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from refbp.cases import SUITE_DIR, discover, load_case
from refbp.check.adapter import AdapterError, Declined, load_factory
from refbp.check.check_adapter import OWN_FORWARD_REFERENCE, check_adapter_case
from refbp.cli import main

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SEED = SUITE_DIR / "seed" / "seed-2-2-2.json"
SMALL = [SEED, SUITE_DIR / "mlp" / "mlp-ce-probabilities-b10.json", SUITE_DIR / "mlp" / "mlp-leaky-relu-sse-b4.json"]
RNN = SUITE_DIR / "rnn" / "rnn-scalar-by-hand.json"


def factory_of(name: str):
    return load_factory(f"{EXAMPLES / name}:factory")


@pytest.mark.parametrize("example", ["numpy_mlp.py", "torch_dense_function.py"])
def test_correct_examples_pass(example):
    for path in SMALL:
        verdict = check_adapter_case(load_case(path), factory_of(example), example)
        assert verdict.passed, [(c.reference, c.tensor, c.note) for c in verdict.failed_checks()]
        references = {c.reference for c in verdict.checks}
        assert {"torch-autograd", "finite-difference", OWN_FORWARD_REFERENCE} <= references
        assert "input_grads" in verdict.not_provided
        # numpy_mlp.py gives its intermediates (optional, judged like any answer); the torch example does not
        assert ("intermediates" in verdict.not_provided) == (example != "numpy_mlp.py")


def test_the_sigmoid_bug_fails_with_the_tensor_named():
    verdict = check_adapter_case(load_case(SEED), factory_of("numpy_mlp_sigmoid_bug.py"), "buggy")
    assert not verdict.passed
    failed = {(c.reference, c.quantity, c.tensor) for c in verdict.failed_checks()}
    for reference in ("torch-autograd", "finite-difference", OWN_FORWARD_REFERENCE):
        assert (reference, "grads", "layers.0.weight") in failed
        assert (reference, "grads", "layers.1.weight") in failed
    assert not any(q in ("outputs", "loss") for _, q, _ in failed)  # the forward is right


class TanhForward:
    """A forward AND backward consistently wrong: tanh where the case says sigmoid."""

    def __init__(self, case):
        from importlib import util

        spec = util.spec_from_file_location("numpy_mlp_for_test", EXAMPLES / "numpy_mlp.py")
        module = util.module_from_spec(spec)
        spec.loader.exec_module(module)
        self.inner = module.NumpyMLP(dict(case, network=dict(case["network"], activations=["tanh", "tanh"])))

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_own_forward_fd_tells_a_wrong_forward_from_a_wrong_backward():
    verdict = check_adapter_case(load_case(SEED), TanhForward, "tanh-forward")
    failed_references = {c.reference for c in verdict.failed_checks()}
    assert "torch-autograd" in failed_references
    assert "torch-autograd" in {c.reference for c in verdict.checks if c.quantity == "outputs" and not c.passed}
    own = [c for c in verdict.checks if c.reference == OWN_FORWARD_REFERENCE]
    assert own and all(c.passed for c in own)  # its backward matches its (wrong) forward


def test_declined_and_raising_implementations():
    with pytest.raises(Declined):
        check_adapter_case(load_case(RNN), factory_of("numpy_mlp.py"), "numpy")

    class Raises:
        def __init__(self, case):
            pass

        def forward(self, params, inputs):
            raise ZeroDivisionError("division by zero\nsecond line")

    verdict = check_adapter_case(load_case(SEED), Raises, "raises")
    assert not verdict.passed and verdict.error_kind == "crash"
    (error,) = verdict.errors  # one line: its first line, and where in its own code (refbp.diagnosis.crash)
    assert error.startswith(f"{SEED}: the implementation raised ZeroDivisionError: division by zero, at ")
    assert "test_adapter.py:" in error and " in forward (raise ZeroDivisionError(" in error and "\n" not in error


def test_a_training_that_raises_fails_the_training_only():
    """A raise in train() (a student's update that breaks on a non-square layer) fails the training
    rows, naming the call and where it raised; the forward and the gradients are still judged."""
    trained = next(case for case in map(load_case, discover([SUITE_DIR / "mlp"])) if case.train is not None)

    class BrokenTraining:
        def __init__(self, case):
            self.inner = factory_of("numpy_mlp.py")(case)

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def train(self, params, inputs, targets):
            raise ValueError("shapes (3,2) and (3,2) not aligned")

    verdict = check_adapter_case(trained, BrokenTraining, "broken-training")
    assert not verdict.passed and verdict.error_kind != "crash" and not verdict.errors
    failed = verdict.failed_checks()
    assert failed and {c.quantity for c in failed} == {"params_after", "loss_after"}
    assert all("train() raised ValueError: shapes (3,2) and (3,2) not aligned, at " in c.note for c in failed)
    judged = {c.quantity for c in verdict.checks if c.passed}
    assert {"outputs", "loss", "grads"} <= judged


def test_a_wrong_shape_is_a_failed_check_not_bad_input():
    class Transposed:
        def __init__(self, case):
            self.inner = factory_of("numpy_mlp.py")(case)

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def gradients(self, params, inputs, targets):
            grads = self.inner.gradients(params, inputs, targets)
            grads["layers.0.weight"] = np.ones((3, 2))
            return grads

    verdict = check_adapter_case(load_case(SEED), Transposed, "transposed")
    bad = [c for c in verdict.failed_checks() if c.tensor == "layers.0.weight"]
    assert bad and all("shape [3, 2]" in c.note for c in bad if c.reference != "expected")


@pytest.mark.parametrize(
    "spec, problem",
    [
        ("no-colon", "expected MODULE:FACTORY"),
        ("no_such_module_xyz:factory", "cannot import no_such_module_xyz"),
        ("json:no_such_factory", "has no callable 'no_such_factory'"),
        ("missing/file.py:factory", "no such file"),
    ],
)
def test_bad_impl_specs_are_usage_errors(spec, problem, capsys):
    with pytest.raises(AdapterError, match=problem):
        load_factory(spec)
    assert main(["check", "--impl", spec, str(SEED), "--no-report", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and problem in err[0]


def test_check_command_exit_codes_and_store(tmp_path, capsys):
    numpy_impl = f"{EXAMPLES / 'numpy_mlp.py'}:factory"
    args = ["--no-progress", "--report-dir", str(tmp_path)]
    assert main(["check", "--impl", numpy_impl, str(SEED), str(RNN), *args]) == 0
    out = capsys.readouterr()
    assert "not supported" in out.out and "recorded as run" in out.out
    assert main(["check", "--impl", numpy_impl, str(RNN), *args]) == 2  # nothing checked
    capsys.readouterr()
    buggy = f"{EXAMPLES / 'numpy_mlp_sigmoid_bug.py'}:factory"
    assert main(["check", "--impl", buggy, str(SEED), "--json", *args]) == 1
    verdicts = json.loads(capsys.readouterr().out)
    assert verdicts[0]["passed"] is False
    schema = json.loads((SUITE_DIR / "schemas" / "refbp-verdict-1.schema.json").read_text())
    for verdict in verdicts:  # own-forward-fd rows and the adapter's fields are part of the format
        jsonschema.validate(verdict, schema)
    assert main(["history", "--implementation", "numpy_mlp.py:"]) == 0
    assert "1 run(s)" in capsys.readouterr().err  # a run that checked nothing is not kept
