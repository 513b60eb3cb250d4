"""A float16 or bfloat16 implementation whose loss rounds the float64 parameters of the finite
differences to the case's dtype (a legitimate way to write one): a step of 6e-6 rounds away, the
differences of its loss are 0, and its own-forward-fd rows are not judged (torch's rows judge the
gradients), never failed. A loss computed in float64 there keeps the check, and its teeth.

The case is a new user's fuzz example (tests/data/fuzz-mlp-a31832b8856e.json: refbp
fuzz --dtype float16, example 51), failed on own-forward-fd before: layers.0.weight[1][1], the
difference 0 where the gradient is 0.79."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np

from refbp.cases import SUITE_DIR, load_case
from refbp.check.check_adapter import check_adapter_case
from refbp.check.own_loss import OwnLoss
from refbp.check.own_rounded import rounds_its_parameters

ROOT = Path(__file__).resolve().parents[1]
CASE_FILE = Path(__file__).resolve().parent / "data" / "fuzz-mlp-a31832b8856e.json"
CASE = load_case(CASE_FILE)


def corpus_module():
    spec = importlib.util.spec_from_file_location(
        "rounded_numpy_low_precision", ROOT / "examples/corpus/numpy_low_precision.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rounding_factory(module, bug=None):
    """The corpus's float16 implementation, its loss computed from parameters rounded to float16
    even when refbp hands it float64 ones; `bug(grads)` changes its gradients."""

    class Rounding(module.Net):
        def own(self, value):
            if isinstance(value, dict):
                return {k: self.own(v) for k, v in value.items()}
            value = np.asarray(value)
            return value.astype(np.float16) if value.dtype == np.float64 else value

        def gradients(self, params, inputs, targets):
            grads = super().gradients(params, inputs, targets)
            return grads if bug is None else bug(grads)

    def factory(case):
        return Rounding(case) if case.get("dtype") == "float16" else None

    return factory


def own_rows(verdict):
    return [c for c in verdict.checks if c.reference == "own-forward-fd"]


def test_the_probe_tells_a_rounding_loss_from_a_float64_one():
    module = corpus_module()
    params = {name: np.asarray(value, dtype=np.float64) for name, value in CASE.params.items()}
    document = {"inputs": CASE.inputs.astype(np.float16), "targets": CASE.targets.astype(np.float16)}
    spec = json.loads(CASE_FILE.read_text())
    rounding, plain = rounding_factory(module)(spec), module.factory_float16(spec)
    with np.errstate(all="ignore"):
        assert rounds_its_parameters(OwnLoss(rounding, document), params)
        assert not rounds_its_parameters(OwnLoss(plain, document), params)


def test_a_loss_that_rounds_its_parameters_is_not_judged_by_its_own_differences():
    module = corpus_module()
    with np.errstate(all="ignore"):
        verdict = check_adapter_case(CASE, rounding_factory(module), "rounding")
    assert verdict.passed and not verdict.inconclusive, [(c.reference, c.tensor, c.note) for c in verdict.checks]
    rows = own_rows(verdict)
    assert rows and all(c.checked == 0 and "rounds its parameters" in c.note for c in rows)
    torch_grads = [c for c in verdict.checks if c.reference == "torch-autograd" and c.quantity == "grads"]
    assert torch_grads and all(c.passed and c.checked for c in torch_grads)


def test_its_gradients_are_still_judged_by_torch():
    def wrong(grads):
        return dict(grads, **{"layers.0.weight": -grads["layers.0.weight"]})

    # A case of the low-precision group (no unit near a kink: the fuzz example's relu units are, and
    # there a wrong slope is inconclusive at float16, as for any implementation).
    case = load_case(SUITE_DIR / "precision" / "lowp-mlp-sigmoid-bce-b12-float16.json")
    with np.errstate(all="ignore"):
        verdict = check_adapter_case(case, rounding_factory(corpus_module(), wrong), "rounding, sign")
    failed = {(c.reference, c.tensor) for c in verdict.checks if not c.passed and c.quantity == "grads"}
    assert ("torch-autograd", "layers.0.weight") in failed, failed
    assert all(c.checked == 0 for c in own_rows(verdict))  # not judged, never failed: torch judged it


def test_a_loss_computed_in_float64_keeps_its_own_forward_check():
    module = corpus_module()
    with np.errstate(all="ignore"):
        verdict = check_adapter_case(CASE, module.factory_float16, "float64 loss")
    assert verdict.passed
    assert any(c.checked > 0 for c in own_rows(verdict)), [c.note for c in own_rows(verdict)]
