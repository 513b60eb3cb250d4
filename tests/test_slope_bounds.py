"""refbp.oracle.slope_bounds: the backward in interval arithmetic, each unit at its kink with its own slope.
Clear of every kink its centre is the ordinary backward (autograd's) and its radius 0; at a kink
it encloses torch's left and right choices and every mixture of them."""

from __future__ import annotations

import numpy as np
import pytest

from refbp.cases import SUITE_DIR, load_case
from refbp.oracle import torch_reference
from refbp.oracle.conventions import Convention
from refbp.oracle.slope_bounds import slope_bounds

SMOOTH = [
    "mlp/mlp-depth4-mixed-ce-b24.json",
    "mlp/mlp-leaky-relu-softmax-mse-b20.json",
    "mlp/mlp-xavier-relu-ce-b64.json",
    "rnn/rnn-relu-every-sse.json",
    "rnn/rnn-truncated-k5.json",
    "rnn/rnn-adam-train-relu-h0.json",
    "rnn/rnn-leaky-relu-readout-last.json",
    "rnn/rnn-softmax-readout.json",
]
ZERO_NETS = SUITE_DIR / "mlp" / "mlp-zero-nets-leaky-relu-relu-b4.json"


@pytest.mark.parametrize("name", SMOOTH)
def test_clear_of_every_kink_the_centre_is_autograds_backward(name):
    case = load_case(SUITE_DIR / name)
    trace = torch_reference.trace(case)
    bounds = slope_bounds(case, trace, force=True)
    for quantity in ("grads", "input_grads"):
        for tensor, (low, high) in bounds[quantity].items():
            expected = getattr(trace, quantity)[tensor]
            scale = 1e-12 * (1.0 + np.max(np.abs(expected)))
            np.testing.assert_allclose((low + high) / 2, expected, atol=scale, err_msg=tensor)
            assert np.max(high - low) <= 2 * scale, tensor


def test_at_a_kink_it_encloses_every_mixture_of_slopes():
    case = load_case(ZERO_NETS)
    left, right = torch_reference.trace(case), torch_reference.trace(case, Convention("right"))
    bounds = slope_bounds(case, left)
    widened = False
    for name, (low, high) in bounds["grads"].items():
        for trace in (left, right):
            assert np.all(low - 1e-12 <= trace.grads[name]) and np.all(trace.grads[name] <= high + 1e-12), name
        widened |= bool(np.any(high - low > 1e-6))
    assert widened


@pytest.mark.parametrize(
    "case_id, tensor", [("fuzz-rnn-c0e3aefe6364", "rnn.weight_ih"), ("fuzz-mlp-2bb245828c79", None)]
)
def test_the_fuzz_found_mixture_passes_and_needs_the_bounds(monkeypatch, case_id, tensor):
    """fuzz-rnn-c0e3aefe6364 (refbp fuzz --kind rnn --seed 7): every net of a relu RNN is 0 in exact
    arithmetic; refbp's takes slope 1 at some units and 0 at others (rounding), which neither
    uniform choice (all left, all right) matches, and the per-unit intervals enclose.
    fuzz-mlp-2bb245828c79 (refbp fuzz --seed 7): the same in an MLP's relu layer."""
    import refbp.oracle.slope_bounds
    from refbp.check.check_case import check_case

    case = load_case(SUITE_DIR / "regressions" / f"{case_id}.json")
    assert check_case(case).passed
    monkeypatch.setattr(refbp.oracle.slope_bounds, "slope_bounds", lambda *args, **kwargs: None)
    failed = check_case(case).failed_checks()
    assert failed and all(c.reference == "torch-autograd" for c in failed)
    assert tensor is None or [c.tensor for c in failed] == [tensor]


SATURATED_SIGMOID = SUITE_DIR / "regressions" / "fuzz-mlp-d2da08000f47.json"


def _net_slope_grads(case):
    """The case's gradients with the sigmoid's slope taken from its net, sigma(z) sigma(-z), as
    examples/numpy_mlp.py and many hand-written implementations take it (torch takes y (1 - y))."""
    import torch

    class NetSlopeSigmoid(torch.autograd.Function):
        @staticmethod
        def forward(ctx, net):
            ctx.save_for_backward(net)
            return torch.sigmoid(net)

        @staticmethod
        def backward(ctx, grad):
            (net,) = ctx.saved_tensors
            return grad * torch.sigmoid(net) * torch.sigmoid(-net)

    weight = torch.tensor(case.params["layers.0.weight"], dtype=torch.float64, requires_grad=True)
    bias = torch.tensor(case.params["layers.0.bias"], dtype=torch.float64, requires_grad=True)
    out = NetSlopeSigmoid.apply(torch.tensor(case.inputs, dtype=torch.float64) @ weight.T + bias)
    ((out - torch.tensor(case.targets, dtype=torch.float64)) ** 2).sum().backward()
    return {"layers.0.weight": weight.grad.numpy(), "layers.0.bias": bias.grad.numpy()}


def test_a_saturated_sigmoid_spans_its_slope_from_the_output_and_from_the_net():
    """fuzz-mlp-d2da08000f47 (refbp fuzz --impl examples/numpy_mlp.py:factory --seed 0): a sigmoid
    at y = 1 - 1.1e-13, where y (1 - y) from the rounded y is off by 8e-4 relatively; both slopes
    are correct, and the interval holds both, no wider than the rounding."""
    case = load_case(SATURATED_SIGMOID)
    trace = torch_reference.trace(case)
    assert tuple(case.network.activations) == ("sigmoid",) and case.loss == "sse"
    bounds = slope_bounds(case, trace)
    from_net = _net_slope_grads(case)
    low, high = bounds["grads"]["layers.0.weight"]
    for grads in (trace.grads, from_net):
        assert np.all(low <= grads["layers.0.weight"]) and np.all(grads["layers.0.weight"] <= high)
    apart = np.abs(trace.grads["layers.0.weight"] - from_net["layers.0.weight"])
    assert apart.max() > 1e-10  # beyond the tolerance's atol: the reason for the bounds
    # and no wider than the two slopes and the outputs' rounding (2 epsilons each side: 8 times
    # the slopes' distance here, 1.1e-16 at most below 1)
    assert np.max(high - low) <= 12 * apart.max()


def test_the_saturated_sigmoid_case_passes_the_net_slope_and_fails_without_the_bounds(monkeypatch):
    import refbp.oracle.slope_bounds
    from refbp.check.conventions import admissible

    case = load_case(SATURATED_SIGMOID)
    trace = torch_reference.trace(case)
    from_net = _net_slope_grads(case)["layers.0.weight"]
    for mode in ("any", "torch"):
        allowed = admissible(case, trace, lambda convention: torch_reference.trace(case, convention), mode)
        nearest, words = allowed.nearest("grads", "layers.0.weight", from_net, 1e-10, 1e-7)
        assert np.all(np.abs(from_net - nearest) <= 1e-10 + 1e-7 * np.abs(nearest)), mode
        assert "sigmoid' at a saturated unit" in words
        # teeth: a slope half the sigmoid's at the saturated unit is no rounding
        wrong = from_net.copy()
        wrong[3] *= 0.5
        nearest, _ = allowed.nearest("grads", "layers.0.weight", wrong, 1e-10, 1e-7)
        assert np.any(np.abs(wrong - nearest) > 1e-10 + 1e-7 * np.abs(nearest)), mode
    monkeypatch.setattr(refbp.oracle.slope_bounds, "slope_bounds", lambda *args, **kwargs: None)
    allowed = admissible(case, trace, lambda convention: torch_reference.trace(case, convention))
    nearest, _ = allowed.nearest("grads", "layers.0.weight", from_net, 1e-10, 1e-7)
    assert np.any(np.abs(from_net - nearest) > 1e-10 + 1e-7 * np.abs(nearest))


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "elu"])
def test_each_saturated_unit_spans_its_slope_from_the_net_and_from_the_output(activation):
    """At a saturated unit the slope from the net (closed forms in torch's functions) and the one
    torch computes from its rounded output both lie in the unit's interval; clear of saturation
    the interval is torch's slope alone, and the two agree within rounding."""
    import torch

    from refbp.oracle.conventions import SATURATED, saturation_distance
    from refbp.oracle.slope_bounds import Spans, _slopes

    net = np.concatenate([np.linspace(-40, 40, 801), [-745.0, 745.0]])
    z = torch.tensor(net, dtype=torch.float64, requires_grad=True)
    out = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "elu": torch.nn.functional.elu}[activation](z)
    (torch_slope,) = torch.autograd.grad(out.sum(), z)
    from_net = (
        {
            "sigmoid": lambda: torch.sigmoid(z) * torch.sigmoid(-z),
            "tanh": lambda: 1 / torch.cosh(z) ** 2,
            "elu": lambda: torch.where(z > 0, 1.0, torch.exp(z)),
        }[activation]()
        .detach()
        .numpy()
    )
    low, high = _slopes(
        activation, net, out.detach().numpy(), np.ones_like(net), Spans(kink=True, saturated=True, eps=2.0**-52)
    )
    clear = saturation_distance(activation, net) >= SATURATED
    torch_slope = torch_slope.numpy()
    for slope in (torch_slope, from_net):
        assert np.all(low[~clear] <= slope[~clear]) and np.all(slope[~clear] <= high[~clear])
    # clear of saturation: torch's slope alone (up to how its formula rounds), the two within rounding of each other
    assert np.all(low[clear] == high[clear])
    np.testing.assert_allclose(low[clear], torch_slope[clear], rtol=1e-14, atol=4e-16)
    np.testing.assert_allclose(from_net[clear], torch_slope[clear], rtol=1e-9)
    assert np.any(low < high)


FLOAT32_KINK = SUITE_DIR / "regressions" / "fuzz-rnn-df6d98ef654b.json"


def test_a_float32_net_rounded_across_its_kink_lies_within_the_bounds(monkeypatch):
    """fuzz-rnn-df6d98ef654b (refbp fuzz --impl ...torch_autograd.py:factory_float32 --dtype float32):
    a relu RNN whose hidden net is a few float32 ulps from 0; torch computing in float32 takes it
    below 0, the float64 reference above. Each unit's kink reaches as far as its net's rounding in
    the case's dtype; with float64's rounding the float32 answer falls outside."""
    import torch

    import refbp.oracle.slope_bounds
    from refbp.check.tolerance import tolerance_for

    case = load_case(FLOAT32_KINK)
    assert case.dtype == "float32" and case.network.nonlinearity == "relu"
    reference, in_float32 = torch_reference.trace(case), torch_reference.trace(case, dtype=torch.float32)
    tolerance = tolerance_for(case, "torch-autograd")

    def outside(bounds, name):
        low, high = bounds["grads"][name]
        given = in_float32.grads[name]
        allowed = tolerance.atol + tolerance.rtol * np.maximum(np.abs(low), np.abs(high))
        return np.any((given < low - allowed) | (given > high + allowed))

    assert not any(outside(slope_bounds(case, reference), name) for name in reference.grads)
    monkeypatch.setattr(refbp.oracle.slope_bounds, "kink_rounding", lambda dtype: 2.0**-52)
    assert any(outside(slope_bounds(case, reference, force=True), name) for name in reference.grads)
