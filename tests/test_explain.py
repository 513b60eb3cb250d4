"""`refbp explain` reads the backward's numbers (it recomputes no chain rule), and the verdict
carries the through-time norms and seeds that the report draws without loading any case.

Each explain test alters one recorded number of a trace handed to the formatter and looks
for the altered number in the output: an explain that recomputed would print the old one.
"""

from __future__ import annotations

import copy
import json
from dataclasses import replace

import pytest

import refbp.nn
import refbp.nn.runner
from refbp import cases
from refbp.cases import SUITE_DIR, load_case
from refbp.check import check_case
from refbp.check.suite import SuiteRun
from refbp.explain import explain, number, trace_of
from refbp.explain_rnn import explain_through_time
from refbp.report.write import write_report

SCALAR_RNN = SUITE_DIR / "rnn" / "rnn-scalar-by-hand.json"
BATCH_MLP = SUITE_DIR / "mlp" / "mlp-tanh-mse-b8-momentum.json"
GENERATED_RNN = SUITE_DIR / "rnn" / "rnn-truncated-k5.json"


@pytest.fixture(scope="module")
def seed_trace(seed_case):
    return trace_of(seed_case)


@pytest.fixture(scope="module")
def seed_case():
    return load_case(SUITE_DIR / "seed" / "seed-2-2-2.json")


def test_w5_is_printed_from_the_recorded_signals_and_gradient(seed_case, seed_trace):
    assert "0.74136507 x 0.186815602 x 0.593269992 = 0.082167041" in explain(seed_case, "w5", seed_trace)
    altered = copy.deepcopy(seed_trace)
    altered.error_signals["layers.1.grad_out"][0, 0] = 0.5
    altered.grads["layers.1.weight"][0, 0] = 0.25
    assert "= 0.5 x 0.186815602 x 0.593269992 = 0.25" in explain(seed_case, "w5", altered)


def test_the_paths_of_w1_are_summed_by_the_backward_not_by_explain(seed_case, seed_trace):
    text = explain(seed_case, "w1", seed_trace)
    assert "dE/dout[0][0] (= 0.055399425 - 0.019049118) = 0.036350306" in text
    assert "0.036350306 x 0.241300709 x 0.05 = 0.000438568" in text
    altered = copy.deepcopy(seed_trace)
    altered.error_signals["layers.0.grad_out"][0, 0] = 0.123  # dE/dout_h1, the backward's sum
    altered.error_signals["layers.1.grad_net"][0, 1] = -0.1  # dE/dnet_o2, one path's factor
    text = explain(seed_case, "w1", altered)
    assert "via net[1][1]: -0.1 x 0.5 = -0.05" in text
    assert "dE/dout[0][0] (= 0.055399425 - 0.05) = 0.123" in text
    assert "= 0.123 x 0.241300709 x 0.05 = 0.000438568" in text


def test_a_batch_shows_each_example_and_the_backwards_sum():
    case = load_case(BATCH_MLP)
    trace = trace_of(case)
    name = "layers.1.weight[0][1]"
    before = explain(case, name, trace)
    assert "summed over the batch" in before and "example 3:" in before
    altered = copy.deepcopy(trace)
    altered.grads["layers.1.weight"][0, 1] = 42.0
    altered.error_signals["layers.1.grad_net"][0, 0] = 2.0  # example 0's dE/dnet
    text = explain(case, name, altered)
    assert "summed over the batch: dE/dlayers.1.weight[0][1] = 42" in text
    out = trace.intermediates["layers.0.out"][0, 1]  # dnet/dw of example 0
    assert f"  example 0:   = 2 x 1 x {number(out)} = {number(2.0 * out)}   (identity" in text


def test_through_time_prints_the_recorded_state_gradients():
    case = load_case(SCALAR_RNN)
    trace = trace_of(case)
    assert "t =    2  ||dE/dh_t|| = 4.736000e+00" in explain_through_time(case, trace)
    altered = copy.deepcopy(trace)
    altered.error_signals["rnn.grad_h"][:, 1, :] *= 2.0  # dE/dh_2
    altered.error_signals["rnn.grad_h0"][...] = -1.5
    text = explain_through_time(case, altered)
    assert "t =    2  ||dE/dh_t|| = 9.472000e+00" in text
    assert "t =    0  ||dE/dh_t|| = 1.500000e+00" in text
    assert "t =    3  ||dE/dh_t|| = 2.920000e+00" in text


def test_a_trace_without_error_signals_is_refused(seed_case, seed_trace):
    bare = copy.deepcopy(seed_trace)
    bare.error_signals = {}
    with pytest.raises(ValueError, match="no error signals"):
        explain(seed_case, "w5", bare)
    case = load_case(SCALAR_RNN)
    bare = copy.deepcopy(trace_of(case))
    bare.error_signals = {}
    with pytest.raises(ValueError, match="no error signals"):
        explain_through_time(case, bare)


def test_the_verdict_carries_the_norms_through_time_and_the_seeds():
    case = load_case(GENERATED_RNN)
    verdict = check_case(case, oracles=("expected",))
    norms = trace_of(case).gradient_norms_through_time()
    assert len(verdict.through_time) == case.steps + 1
    assert verdict.through_time == norms
    assert verdict.seeds == {"params.init": 110, "inputs.random": 111, "targets.random": 112}  # the file's
    document = verdict.to_json()
    assert document["through_time"] == norms and document["seeds"] == verdict.seeds
    json.dumps(document, allow_nan=False)


def test_an_explicit_mlp_verdict_has_neither(seed_case):
    verdict = check_case(seed_case, oracles=("expected",))
    assert verdict.through_time is None and verdict.seeds == {}
    assert "through_time" not in verdict.to_json() and "seeds" not in verdict.to_json()


def test_the_report_draws_through_time_without_loading_any_case(tmp_path, monkeypatch):
    verdict = check_case(load_case(GENERATED_RNN), oracles=("expected",))
    verdict = replace(
        verdict,
        case="not-in-any-suite",
        path=str(tmp_path / "nowhere" / "not-in-any-suite.json"),  # no such file
        through_time=[1.0, 0.5, 0.0, 0.25],  # a zero norm is left off the log axis
    )

    def forbidden(*_args, **_kwargs):
        raise AssertionError("the report loaded a case or ran a computation")

    for module, name in [(cases, "load_case"), (refbp.nn, "compute_trace"), (refbp.nn.runner, "compute_trace")]:
        monkeypatch.setattr(module, name, forbidden)
    report = write_report(SuiteRun(verdicts=[verdict]), tmp_path / "reports")
    png = report / "grad-through-time-not-in-any-suite.png"
    assert png.stat().st_size > 0
    assert f'src="{png.name}"' in (report / "report.html").read_text()
    environment = json.loads((report / "environment.json").read_text())
    assert environment["seeds"] == {"not-in-any-suite": verdict.seeds}
