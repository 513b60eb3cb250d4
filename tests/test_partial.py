"""Partial answers (issue 28, item 3): what an implementation declares it does not compute is
listed as not provided, never a NaN failure and never skipped silently; a case judged on part of
what it asks is PARTIAL, and `--require all` fails it. The implementation without bias gradients
is examples/mazur_no_bias.py (Mazur's 2-2-2 network's own style), on the seed's case."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from refbp.cases import SUITE_DIR, load_case
from refbp.check.check_adapter import check_adapter_case
from refbp.check.provided import NotProvided, require_all
from refbp.cli import main
from refbp.report.console import format_run

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SEED = SUITE_DIR / "seed" / "seed-2-2-2.json"
TRAINED_BIASES = SUITE_DIR / "mlp" / "mlp-sigmoid-half-sse-b1.json"  # SGD, no bias frozen


def example(name: str):
    spec = importlib.util.spec_from_file_location(f"partial_test_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.factory


def undeclared(factory):
    """The same implementation without its declaration."""

    def plain(case):
        return factory(case)

    return plain


def rows_of(verdict, tensor):
    return [c for c in verdict.checks if c.tensor == tensor and c.quantity == "grads"]


def test_declared_bias_gradients_are_not_provided_and_the_seed_passes_partial():
    verdict = check_adapter_case(load_case(SEED), example("mazur_no_bias"), "mazur")
    assert verdict.passed and verdict.partial
    assert {"grads.layers.0.bias", "grads.layers.1.bias"} <= set(verdict.not_provided)
    assert not rows_of(verdict, "layers.0.bias") and not rows_of(verdict, "layers.1.bias")
    assert not any(np.isnan(c.actual) and c.quantity == "grads" for c in verdict.checks)  # no "got nan"
    references = {c.reference for c in rows_of(verdict, "layers.0.weight")}
    assert references == {"torch-autograd", "finite-difference", "expected", "own-forward-fd"}
    # The seed freezes both biases: its training is judged, and passes.
    assert {c.quantity for c in verdict.checks} >= {"params_after", "loss_after"}
    document = verdict.to_json()
    assert document["partial"] is True and document["state"] == "pass"
    schema = json.loads((SUITE_DIR / "schemas" / "refbp-verdict-1.schema.json").read_text())
    jsonschema.validate(document, schema)


def test_undeclared_missing_bias_gradients_fail_as_missing_on_every_reference():
    verdict = check_adapter_case(load_case(SEED), undeclared(example("mazur_no_bias")), "mazur")
    assert not verdict.passed and not verdict.partial
    for tensor in ("layers.0.bias", "layers.1.bias"):
        failed = rows_of(verdict, tensor)
        assert {c.reference for c in failed} == {"torch-autograd", "finite-difference"}
        assert all(not c.passed and c.diagnosis == "missing" and "not declared" in c.note for c in failed)
    assert not [c for c in verdict.checks if c.reference == "own-forward-fd" and "bias" in c.tensor]


def test_a_bias_trained_by_the_case_makes_its_training_not_provided():
    verdict = check_adapter_case(load_case(TRAINED_BIASES), example("mazur_no_bias"), "mazur")
    assert verdict.passed and verdict.partial
    assert {"params_after", "loss_after"} <= set(verdict.not_provided)
    assert not [c for c in verdict.checks if c.quantity in ("params_after", "loss_after")]


def test_require_all_fails_a_partial_case_and_leaves_a_whole_one():
    verdict = require_all(check_adapter_case(load_case(SEED), example("mazur_no_bias"), "mazur"))
    assert not verdict.passed and verdict.state.value == "fail"
    assert {c.tensor for c in verdict.failed_checks()} == {"layers.0.bias", "layers.1.bias"}
    assert all(c.diagnosis == "missing" for c in verdict.failed_checks())
    whole = require_all(check_adapter_case(load_case(SEED), example("numpy_mlp"), "numpy"))
    assert whole.passed and not whole.partial  # fairness: a whole correct answer is untouched


def test_a_declaration_hides_no_wrong_gradient():
    base = example("mazur_no_bias")

    class Wrong:
        def __init__(self, inner):
            self.inner = inner

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def gradients(self, params, inputs, targets):
            grads = self.inner.gradients(params, inputs, targets)
            grads["layers.1.weight"] = grads["layers.1.weight"].T  # a classic slip on a square layer
            return grads

    def factory(case):
        return Wrong(base(case))

    factory.not_provided = base.not_provided
    verdict = check_adapter_case(load_case(SEED), factory, "wrong")
    assert not verdict.passed and not verdict.partial
    failed = {(c.tensor, c.reference) for c in verdict.failed_checks()}
    assert ("layers.1.weight", "torch-autograd") in failed


def test_patterns():
    declared = NotProvided(("layers.*.bias", "params_after.rnn.*", "loss"))
    assert declared.tensor("grads", "layers.3.bias") and not declared.tensor("grads", "layers.3.weight")
    assert not declared.tensor("params_after", "layers.3.bias")
    assert declared.tensor("params_after", "rnn.weight_hh") and declared.quantity("loss")
    assert NotProvided(("train",)).quantity("loss_after") and not NotProvided(("train",)).quantity("loss")


def test_the_table_says_partial_and_the_cli_exit_codes(tmp_path, capsys):
    spec = f"{EXAMPLES / 'mazur_no_bias.py'}:factory"
    assert main(["check", "--impl", spec, str(SEED), "--no-report", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[1].startswith("PART  seed-2-2-2")
    assert "not provided: grads.layers.0.bias, grads.layers.1.bias" in out and "(1 partial)" in out
    assert main(["check", "--impl", spec, str(SEED), "--no-report", "--no-progress", "--require", "all"]) == 1


def test_the_report_lists_what_is_not_provided(tmp_path):
    spec = f"{EXAMPLES / 'mazur_no_bias.py'}:factory"
    assert main(["check", "--impl", spec, str(SEED), "--report-dir", str(tmp_path), "--no-progress"]) == 0
    (run,) = tmp_path.glob("run-*")
    details = (run / "details.csv").read_text()
    assert details.count(",not provided,") == 2
    assert ",partial," in (run / "summary.csv").read_text()
    assert "1/1 cases passed (1 partial)" in (run / "report.html").read_text()


def test_a_result_without_bias_gradients_is_partial_in_verify(tmp_path):
    factory = example("numpy_mlp")
    case = load_case(SEED)
    from refbp.check.adapter import case_document

    document = case_document(case)
    implementation = factory(document)
    grads = implementation.gradients(document["params"], document["inputs"], document["targets"])
    result = {
        "format": "refbp-result/1",
        "case": case.id,
        "implementation": "partial",
        "outputs": implementation.forward(document["params"], document["inputs"]).tolist(),
        "loss": implementation.loss(document["params"], document["inputs"], document["targets"]),
        "grads": {k: v.tolist() for k, v in grads.items() if k.endswith("weight")},
    }
    path = tmp_path / "result.json"
    path.write_text(json.dumps(result))
    assert main(["verify", str(path), "--no-report", "--no-progress"]) == 0
    assert main(["verify", str(path), "--no-report", "--no-progress", "--require", "all"]) == 1


@pytest.mark.parametrize("declaration", [3, ("layers.*.bias", "")])
def test_a_malformed_declaration_is_the_implementations_error(declaration):
    factory = undeclared(example("mazur_no_bias"))
    factory.not_provided = declaration
    verdict = check_adapter_case(load_case(SEED), factory, "bad")
    assert verdict.error_kind == "crash" and "not_provided" in verdict.errors[0]
    assert format_run  # the console module imports refbp.check.provided without a cycle
