"""oracle.kink_bounds: the backward in interval arithmetic, each unit at its kink with its own slope.
Clear of every kink its centre is the ordinary backward (autograd's) and its radius 0; at a kink
it encloses torch's left and right choices and every mixture of them."""

from __future__ import annotations

import numpy as np
import pytest

from cases import SUITE_DIR, load_case
from oracle import torch_reference
from oracle.conventions import Convention
from oracle.kink_bounds import kink_bounds

SMOOTH = ["mlp/mlp-depth4-mixed-ce-b24.json", "mlp/mlp-leaky-relu-softmax-mse-b20.json",
          "mlp/mlp-xavier-relu-ce-b64.json", "rnn/rnn-relu-every-sse.json", "rnn/rnn-truncated-k5.json",
          "rnn/rnn-adam-train-relu-h0.json", "rnn/rnn-leaky-relu-readout-last.json", "rnn/rnn-softmax-readout.json"]
ZERO_NETS = SUITE_DIR / "mlp" / "mlp-zero-nets-leaky-relu-relu-b4.json"


@pytest.mark.parametrize("name", SMOOTH)
def test_clear_of_every_kink_the_centre_is_autograds_backward(name):
    case = load_case(SUITE_DIR / name)
    trace = torch_reference.trace(case)
    bounds = kink_bounds(case, trace, force=True)
    for quantity in ("grads", "input_grads"):
        for tensor, (low, high) in bounds[quantity].items():
            expected = getattr(trace, quantity)[tensor]
            scale = 1e-12 * (1.0 + np.max(np.abs(expected)))
            np.testing.assert_allclose((low + high) / 2, expected, atol=scale, err_msg=tensor)
            assert np.max(high - low) <= 2 * scale, tensor


def test_at_a_kink_it_encloses_every_mixture_of_slopes():
    case = load_case(ZERO_NETS)
    left, right = torch_reference.trace(case), torch_reference.trace(case, Convention("right"))
    bounds = kink_bounds(case, left)
    widened = False
    for name, (low, high) in bounds["grads"].items():
        for trace in (left, right):
            assert np.all(low - 1e-12 <= trace.grads[name]) and np.all(trace.grads[name] <= high + 1e-12), name
        widened |= bool(np.any(high - low > 1e-6))
    assert widened


@pytest.mark.parametrize("case_id, tensor", [("fuzz-rnn-c0e3aefe6364", "rnn.weight_ih"),
                                             ("fuzz-mlp-2bb245828c79", None)])
def test_the_fuzz_found_mixture_passes_and_needs_the_bounds(monkeypatch, case_id, tensor):
    """fuzz-rnn-c0e3aefe6364 (refbp fuzz --kind rnn --seed 7): every net of a relu RNN is 0 in exact
    arithmetic; refbp's takes slope 1 at some units and 0 at others (rounding), which neither
    uniform choice (all left, all right) matches, and the per-unit intervals enclose.
    fuzz-mlp-2bb245828c79 (refbp fuzz --seed 7): the same in an MLP's relu layer."""
    import oracle.kink_bounds
    from refbp.check.check_case import check_case

    case = load_case(SUITE_DIR / "regressions" / f"{case_id}.json")
    assert check_case(case).passed
    monkeypatch.setattr(oracle.kink_bounds, "kink_bounds", lambda *args, **kwargs: None)
    failed = check_case(case).failed_checks()
    assert failed and all(c.reference == "torch-autograd" for c in failed)
    assert tensor is None or [c.tensor for c in failed] == [tensor]
