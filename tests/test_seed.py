"""The seed's worked example (Mazur 2015) reproduces to every printed digit.

The published numbers below are copied from the seed article (Mazur 2015); a value printed
with k decimals must equal refbp's float64 value rounded to k decimals.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from refbp.check import check_case
from refbp.nn import compute_trace


def decimals(printed: str) -> int:
    return -Decimal(printed).as_tuple().exponent


def assert_printed(value: float, printed: str):
    assert round(float(value), decimals(printed)) == pytest.approx(float(printed), abs=1e-15), (value, printed)


@pytest.fixture(scope="module")
def trace():
    from refbp.cases import SUITE_DIR, load_case

    return compute_trace(load_case(SUITE_DIR / "seed" / "seed-2-2-2.json"))


def test_forward_pass(trace):
    net = trace.intermediates
    assert_printed(net["layers.0.net"][0, 0], "0.3775")
    assert_printed(net["layers.0.out"][0, 0], "0.593269992")
    assert_printed(net["layers.0.out"][0, 1], "0.596884378")
    assert_printed(net["layers.1.net"][0, 0], "1.105905967")
    assert_printed(trace.outputs[0, 0], "0.75136507")
    assert_printed(trace.outputs[0, 1], "0.772928465")


def test_errors(trace):
    targets = np.array([0.01, 0.99])
    per_output = 0.5 * (targets - trace.outputs[0]) ** 2
    assert_printed(per_output[0], "0.274811083")
    assert_printed(per_output[1], "0.023560026")
    assert_printed(trace.loss, "0.298371109")


def test_gradients_and_chain_rule_factors(trace):
    """The seed's factors of dE/dw5 and dE/dw1, read from what refbp's backward recorded."""
    signals = trace.error_signals
    # dE/dw5 = dE/dout_o1 x dout_o1/dnet_o1 x dnet_o1/dw5
    grad_out_o1, grad_net_o1 = signals["layers.1.grad_out"][0, 0], signals["layers.1.grad_net"][0, 0]
    assert_printed(grad_out_o1, "0.74136507")
    assert_printed(grad_net_o1 / grad_out_o1, "0.186815602")  # the slope the backward applied
    assert_printed(trace.intermediates["layers.0.out"][0, 0], "0.593269992")  # out_h1 = dnet_o1/dw5
    assert_printed(trace.grads["layers.1.weight"][0, 0], "0.082167041")
    # dE/dw1 = dE/dout_h1 x dout_h1/dnet_h1 x dnet_h1/dw1 (dnet_h1/dw1 = i1 = 0.05, an input)
    grad_out_h1, grad_net_h1 = signals["layers.0.grad_out"][0, 0], signals["layers.0.grad_net"][0, 0]
    assert_printed(grad_out_h1, "0.036350306")
    assert_printed(grad_net_h1 / grad_out_h1, "0.241300709")
    assert_printed(trace.grads["layers.0.weight"][0, 0], "0.000438568")


def test_updated_weights_use_the_original_weights(trace):
    after = trace.params_after
    for (i, j), printed in zip(
        [(0, 0), (0, 1), (1, 0), (1, 1)], ["0.35891648", "0.408666186", "0.511301270", "0.561370121"]
    ):
        assert_printed(after["layers.1.weight"][i, j], printed)
    for (i, j), printed in zip(
        [(0, 0), (0, 1), (1, 0), (1, 1)], ["0.149780716", "0.19956143", "0.24975114", "0.29950229"]
    ):
        assert_printed(after["layers.0.weight"][i, j], printed)
    np.testing.assert_array_equal(after["layers.0.bias"], [0.35, 0.35])  # frozen, as in the seed
    np.testing.assert_array_equal(after["layers.1.bias"], [0.60, 0.60])


def test_hidden_error_paths(trace):
    """dE/dout_h1 = 0.055399425 - 0.019049119 = 0.036350306 in the seed: the path through o1
    (dE/dnet_o1 x w5) and through o2 (dE/dnet_o2 x w7), summed by refbp's backward.

    The second path prints as 0.019049119 there, but it is 0.0190491182... in float64
    (the source rounded dE/dnet_o2 before multiplying), so only the sum and the first path
    are held to every digit; the second path to its 8th decimal.
    """
    grad_net_o1, grad_net_o2 = trace.error_signals["layers.1.grad_net"][0]
    via_o1, via_o2 = grad_net_o1 * 0.40, grad_net_o2 * 0.50  # w5, w7 (the published weights)
    assert_printed(via_o1, "0.055399425")
    assert abs(via_o2 - (-0.019049119)) < 1e-9
    assert_printed(trace.error_signals["layers.0.grad_out"][0, 0], "0.036350306")
    assert trace.error_signals["layers.0.grad_out"][0, 0] == pytest.approx(via_o1 + via_o2, abs=1e-15)


def test_seed_case_passes_every_reference(seed_case):
    verdict = check_case(seed_case)
    assert verdict.passed, [c for c in verdict.checks if not c.passed]
    references = {c.reference for c in verdict.checks}
    assert references == {"torch-autograd", "finite-difference", "expected"}
