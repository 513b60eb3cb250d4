"""refbp.testing: the public strategies keep their documented bounds and draw only cases the
loader accepts; `assert_matches_torch` fails on a wrong number and names the tensor, the
entry and the phase."""

from __future__ import annotations

import copy
import json
import math
import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from refbp import names
from refbp.cases import Tolerance, parse_case
from refbp.nn import compute_trace
from refbp.testing import assert_matches_torch
from refbp.testing import strategies as rst

QUICK = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _within(array, magnitudes) -> bool:
    """Every entry 0 or of a magnitude within `magnitudes` (rounded inwards to float32)."""
    low, high = magnitudes
    size = np.abs(np.asarray(array, dtype=np.float64))
    return bool(np.all((size == 0) | ((size >= low * (1 - 1e-7)) & (size <= high))))


def _params_within_their_bounds(case) -> None:
    shapes = case.network.param_shapes()
    for name, value in case.params.items():
        if name.startswith("rnn."):
            fan_in = shapes["rnn.weight_hh"][0]
        else:
            fan_in = shapes[name.rsplit(".", 1)[0] + ".weight"][1]
        assert _within(value[value != 0], (1e-3 / math.sqrt(fan_in), 1 / math.sqrt(fan_in))), name


@QUICK
@given(rst.mlp_documents(dtypes=names.DTYPES, train=None))
def test_mlp_documents_are_explicit_bounded_and_accepted(document):
    json.dumps(document)  # plain JSON values only
    case = parse_case(copy.deepcopy(document))
    assert not any(isinstance(document[k], dict) for k in ("inputs", "targets"))
    assert not set(document["params"]) & {"init"}
    assert 1 <= case.network.depth <= rst.MAX_DEPTH and max(case.network.sizes) <= rst.MAX_WIDTH
    assert 1 <= case.batch <= rst.MAX_BATCH
    assert case.network.output_activation in rst.output_activations(case.loss)
    assert _within(case.inputs, rst.VALUE_RANGES["ordinary"])
    _params_within_their_bounds(case)
    if case.dtype == "float32":  # the implementation's float32 numbers are the reference's numbers
        for value in [case.inputs, *case.params.values()]:
            np.testing.assert_array_equal(value.astype(np.float32), value)
    if case.train is not None:
        assert 1 <= case.train.steps <= rst.MAX_TRAIN_STEPS
        assert len(case.train.frozen) < len(case.params)


@QUICK
@given(rst.rnn_documents(h0=True, values="large", train=None))
def test_rnn_documents_are_explicit_bounded_and_accepted(document):
    case = parse_case(copy.deepcopy(document))
    assert max(case.network.input_size, case.network.hidden_size, case.network.output_size) <= 5
    assert 1 <= case.steps <= rst.MAX_STEPS and 1 <= case.batch <= 3
    assert case.network.truncate is None or 1 <= case.network.truncate <= rst.MAX_STEPS
    assert _within(case.inputs, rst.VALUE_RANGES["large"]) and _within(case.h0, rst.VALUE_RANGES["large"])
    _params_within_their_bounds(case)


@QUICK
@given(rst.mlp_cases(losses=("bce", "cross_entropy"), max_depth=2, max_width=3, train=False))
def test_narrowed_strategies_draw_only_what_they_allow(case):
    assert case.network.depth <= 2 and max(case.network.sizes) <= 3 and case.train is None
    assert case.network.output_activation == {"bce": "sigmoid", "cross_entropy": "identity"}[case.loss]
    assert case.network.output_size >= 2 or case.loss == "bce"
    if case.loss == "bce":
        assert np.all((case.targets >= 0) & (case.targets <= 1))
    elif not case.class_targets:
        np.testing.assert_allclose(case.targets.sum(axis=-1), 1.0)


@QUICK
@given(st.data(), rst.value_ranges(), rst.dtypes())
def test_values_and_arrays_stay_in_their_range_and_dtype(data, kind, dtype):
    array = data.draw(rst.arrays((3, 4), values=kind, dtype=dtype))
    assert array.dtype == np.dtype(dtype) and array.shape == (3, 4)  # so, float32 numbers for float32
    assert np.all(np.isfinite(array)) and _within(array, rst.VALUE_RANGES[kind])


@QUICK
@given(rst.trainings(["a", "b", "c"], frozen=True))
def test_trainings_freeze_some_parameters_never_all(train):
    assert 1 <= len(train["frozen"]) < 3 and train["optimizer"] in names.OPTIMIZERS


def test_the_strategies_read_their_names_from_the_table():
    assert set(rst.HIDDEN_ACTIVATIONS) | {"softmax"} == set(names.ACTIVATIONS)
    assert set(rst.LOSS_HEADS) <= set(names.LOSSES)
    assert rst.output_activations("mse") == tuple(names.ACTIVATIONS)


def test_without_hypothesis_the_strategies_say_which_extra_to_install():
    code = "import sys; sys.modules['hypothesis'] = None; import refbp.testing.strategies"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode != 0 and "pip install 'refbp[fuzz]'" in result.stderr


# ---- assert_matches_torch ------------------------------------------------------------------


def test_a_correct_trace_matches_and_every_quantity_is_judged(seed_case):
    judged = assert_matches_torch(seed_case)
    assert {c.quantity for c in judged} == {
        "outputs",
        "loss",
        "intermediates",
        "grads",
        "input_grads",
        "params_after",
        "loss_after",
    }
    assert all(c.passed for c in judged)


def test_a_wrong_gradient_entry_is_named_with_its_phase_and_entry(seed_case):
    trace = compute_trace(seed_case)
    trace.grads["layers.1.weight"][1, 0] += 1e-6
    with pytest.raises(AssertionError, match=r"backward grads layers\.1\.weight\[1\]\[0\]: .* where torch has"):
        assert_matches_torch(seed_case, trace)


def test_forward_and_backward_have_their_own_tolerances(seed_case):
    trace = compute_trace(seed_case)
    trace.grads["layers.0.weight"][0, 1] += 1e-6
    loose = Tolerance(atol=1e-3, rtol=0.0)
    assert_matches_torch(seed_case, trace, backward=loose)
    trace.intermediates["layers.0.out"][0, 0] += 1e-6
    with pytest.raises(AssertionError, match=r"forward intermediates layers\.0\.out\[0\]\[0\]"):
        assert_matches_torch(seed_case, trace, backward=loose)
    assert_matches_torch(seed_case, trace, forward=loose, backward=loose)


def test_a_tensor_the_trace_lacks_fails_unless_left_out(seed_case):
    trace = compute_trace(seed_case)
    trace.intermediates = {}
    with pytest.raises(AssertionError, match=r"forward intermediates layers\.0\.net: not computed"):
        assert_matches_torch(seed_case, trace)
    judged = assert_matches_torch(seed_case, trace, quantities=("outputs", "loss", "grads"))
    assert {c.quantity for c in judged} == {"outputs", "loss", "grads"}


def test_the_fuzz_guide_example_runs(tmp_path):
    guide = (Path(__file__).resolve().parents[1] / "docs" / "fuzz.md").read_text()
    section = guide.split("## Fuzzing your own implementation with refbp's strategies", 1)[1]
    example = tmp_path / "readme_example.py"
    example.write_text(section.split("```python\n", 1)[1].split("```", 1)[0])
    test = runpy.run_path(str(example))["test_matches_torch"]
    settings(max_examples=3, deadline=None)(test)()
