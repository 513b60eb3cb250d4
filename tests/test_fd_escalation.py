"""No false alarms from the finite-difference reference itself (refbp.check.fd_reference and
the bce loss): a correct gradient passes where central differences' error estimate falls
short (large weights and inputs), and at a saturated bce output; a wrong one still fails."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from refbp.cases import Case, MLPNetwork
from refbp.cases.generate import random_problem
from refbp.check.check_case import finite_difference_checks, torch_checks
from refbp.check.entrywise import compare
from refbp.check.tolerance import FD_ERROR_FACTOR, fd_tolerance
from refbp.nn import compute_trace
from refbp.oracle.fd import finite_difference
from refbp.perturbed import loss_forms
from refbp.trace import Trace


def large_tanh_case() -> Case:
    """The issue's network: 3 tanh layers, weights x30, inputs x10 (central differences'
    truncation guess falls short at 5 entries of layers.0)."""
    network = MLPNetwork(sizes=(8, 16, 16, 4), activations=("tanh",) * 3, bias=True)
    params, inputs, targets = random_problem(network.param_shapes(), (8, 8), (8, 4), targets="uniform", seed=4)
    return Case(
        id="large-tanh",
        network=network,
        loss="half_sse",
        params={n: 30.0 * p for n, p in params.items()},
        inputs=10.0 * inputs,
        targets=targets,
    )


def saturated_bce_case() -> Case:
    """A sigmoid output at about 1e-13 with target 1: y (1 - y) far below 1e-12."""
    network = MLPNetwork(sizes=(3, 4, 2), activations=("tanh", "sigmoid"), bias=True)
    rng = np.random.default_rng(0)
    params = {name: rng.standard_normal(shape) for name, shape in network.param_shapes().items()}
    params["layers.1.bias"] = np.array([-31.0, 0.0])
    return Case(
        id="bce-saturated",
        network=network,
        loss="bce",
        params=params,
        inputs=rng.standard_normal((4, 3)),
        targets=np.array([[1.0, 0.3]] * 4),
    )


def forms_of(case, complex_capable: bool):
    """refbp's forms, without the complex step's where `complex_capable` is false (Richardson escalates)."""
    forms = loss_forms(case)
    return forms if complex_capable else dataclasses.replace(forms, complex_loss=None, complex_perturbed=None)


def central_alone_fails(case) -> bool:
    """Whether plain central differences, with their own error estimate, reject the correct gradient."""
    result = finite_difference("central", loss_forms(case), case.params)
    tolerance = fd_tolerance(case, "central", sum(p.size for p in case.params.values()))
    grads = compute_trace(case).grads
    return not all(
        compare(
            grads[n], result.grads[n], tolerance.atol, tolerance.rtol, allowance=FD_ERROR_FACTOR * result.errors[n]
        ).passed
        for n in grads
    )


def test_the_large_weight_network_defeats_central_differences_alone():
    """The premise: without escalation this correct gradient fails."""
    assert central_alone_fails(large_tanh_case())


@pytest.mark.parametrize("complex_capable", [True, False], ids=["complex step", "richardson"])
def test_a_correct_gradient_passes_after_escalation(complex_capable):
    case = large_tanh_case()
    forms = forms_of(case, complex_capable)
    rows = finite_difference_checks(case, compute_trace(case), forms, "central")
    assert rows and all(r.passed for r in rows), [(r.tensor, r.note) for r in rows if not r.passed]
    expected = "complex" if complex_capable else "richardson"
    assert any(expected in r.note.split(";")[0] for r in rows)  # "12 judged (9 central, 3 complex)"


@pytest.mark.parametrize("complex_capable", [True, False], ids=["complex step", "richardson"])
def test_a_wrong_entry_still_fails_after_escalation(complex_capable):
    case = large_tanh_case()
    forms = forms_of(case, complex_capable)
    grads = {n: g.copy() for n, g in compute_trace(case).grads.items()}
    g = grads["layers.1.weight"]
    index = np.unravel_index(int(np.argmax(np.abs(g))), g.shape)
    g[index] *= 1.0 + 1e-3
    rows = finite_difference_checks(case, Trace(outputs=None, loss=0.0, grads=grads), forms, "central")
    failed = [r for r in rows if not r.passed]
    assert [r.tensor for r in failed] == ["layers.1.weight"]
    assert failed[0].worst_index == [int(i) for i in index]


def test_a_correct_gradient_escalates_nothing_on_an_ordinary_network():
    case = dataclasses.replace(large_tanh_case(), params={n: p / 30.0 for n, p in large_tanh_case().params.items()})
    rows = finite_difference_checks(case, compute_trace(case), loss_forms(case), "central")
    assert all(r.passed for r in rows) and all(r.note.startswith(f"{r.checked} judged (central)") for r in rows)


@pytest.mark.parametrize("method", ["central", "richardson", "complex"])
def test_a_saturated_bce_output_passes_against_refbps_own_forward(method):
    case = saturated_bce_case()
    trace = compute_trace(case)
    assert float(np.min(trace.outputs)) < 1e-12
    rows = finite_difference_checks(case, trace, loss_forms(case), method)
    assert rows and all(r.passed for r in rows), [(r.tensor, r.max_rel_err) for r in rows if not r.passed]


def test_a_saturated_bce_output_agrees_with_torch():
    """The torch reference differentiates BCELoss's value (refbp.oracle.torch_functions), not
    BCELoss's own backward (which floors y (1 - y) at 1e-12)."""
    case = saturated_bce_case()
    failed = [(r.quantity, r.tensor) for r in torch_checks(case, compute_trace(case)) if not r.passed]
    assert not failed
