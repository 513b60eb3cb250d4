"""Diagnosis names in low precision: a factor-2 bug computed in float16 or bfloat16 is named
`scaled:2`, not `scaled:2.00074` (refbp.diagnosis.signatures.snapped: the fitted ratio carries the
dtype's rounding; a simple value the row's tolerance cannot tell from it is its name)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from refbp.cases import SUITE_DIR, discover, load_case
from refbp.check.check_adapter import check_adapter_case
from refbp.diagnosis.signatures import closed_form, snapped

CORPUS = Path(__file__).resolve().parents[1] / "examples" / "corpus"
GROUP = {case.id: case for case in (load_case(p) for p in discover([SUITE_DIR / "precision"]))}
FACTORIES = {"float16": "factory_float16", "bfloat16": "factory_bfloat16"}


def corpus_module(tag: str):
    spec = importlib.util.spec_from_file_location(f"names_numpy_low_precision_{tag}", CORPUS / "numpy_low_precision.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def failed_gradients(case, module, name: str) -> dict:
    with np.errstate(all="ignore"):
        verdict = check_adapter_case(case, getattr(module, FACTORIES[case.dtype]), name)
    return {
        c.tensor: c.diagnosis
        for c in verdict.checks
        if not c.passed and c.reference == "torch-autograd" and c.quantity == "grads"
    }


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_a_forgotten_half_is_named_scaled_2_in_low_precision(dtype):
    """half_sse's gradient without its 1/2 (y - t doubled): every gradient is 2 x the reference."""
    case = GROUP[f"lowp-mlp-sigmoid-half-sse-b16-{dtype}"]
    module = corpus_module(f"half{dtype}")
    correct = module.loss_and_grad

    def doubled(name, y, t):
        loss, grad = correct(name, y, t)
        return loss, (2 * grad).astype(grad.dtype)

    module.loss_and_grad = doubled
    failed = failed_gradients(case, module, "doubled")
    assert failed and set(failed.values()) == {"scaled:2"}, failed


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_a_flipped_sign_is_named_sign_in_low_precision(dtype):
    case = GROUP[f"lowp-mlp-sigmoid-half-sse-b16-{dtype}"]
    module = corpus_module(f"sign{dtype}")
    correct = module.loss_and_grad

    def flipped(name, y, t):
        loss, grad = correct(name, y, t)
        return loss, -grad

    module.loss_and_grad = flipped
    failed = failed_gradients(case, module, "flipped")
    assert failed and set(failed.values()) == {"sign"}, failed


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_summed_over_the_batch_is_named_by_the_batch_size(dtype):
    """The loss's gradient not divided by the batch (B = 16 for this case's half_sse, which sums:
    the bug here multiplies by B)."""
    case = GROUP[f"lowp-mlp-sigmoid-half-sse-b16-{dtype}"]
    module = corpus_module(f"batch{dtype}")
    correct = module.loss_and_grad

    def times_batch(name, y, t):
        loss, grad = correct(name, y, t)
        return loss, (len(y) * grad).astype(grad.dtype)

    module.loss_and_grad = times_batch
    failed = failed_gradients(case, module, "times B")
    assert failed and set(failed.values()) == {"scaled:B"}, failed


def test_snapping_takes_a_simple_value_only_within_the_rows_tolerance():
    case = GROUP["lowp-mlp-sigmoid-half-sse-b16-float16"]
    reference = np.array([[1.0, -0.5], [0.25, 2.0]])
    noisy = 2 * reference * (1 + np.array([[7e-4, -3e-4], [5e-4, 1e-4]]))  # float16's noise on a factor 2
    k = float(np.sum(noisy * reference) / np.sum(reference * reference))
    assert k != 2.0
    assert snapped(k, noisy, reference, atol=4 * 2.0**-10 * 4, rtol=0.0, case=case) == 2.0
    assert closed_form(noisy, reference, 4 * 2.0**-10 * 4, 0.0, case)[0] == "scaled:2"
    # float64's tolerance tells 2.0007 from 2: the ratio keeps its digits
    assert snapped(k, noisy, reference, atol=1e-10, rtol=1e-7, case=case) == k
    # a ratio no simple value explains keeps its number
    odd = 2.3 * reference
    assert snapped(2.3, odd, reference, atol=4 * 2.0**-10 * 4, rtol=0.0, case=case) == 2.3
    # a whole number that is no named factor: 3 (within float16's tolerance), its inverse too
    assert snapped(3.0012, 3.0012 * reference, reference, atol=0.02, rtol=0.0, case=case) == 3.0
    assert snapped(1 / 3.0012, reference / 3.0012, reference, atol=0.02, rtol=0.0, case=case) == 1 / 3
