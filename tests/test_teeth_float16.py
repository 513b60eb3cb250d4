"""The teeth tests again, every case in float16: each injected bug is still caught and named, and
the untouched cases still pass, judged against torch's own error in float16 (refbp.check.precision).

As tests/test_teeth_float32.py does for float32: the bug tests of test_teeth.py and
test_rnn_teeth.py, and the finite-difference teeth of test_fd_teeth.py that plant a wrong
gradient, are collected a second time, unchanged; an autouse fixture makes every case they load
or parse the float16 copy of itself (every number rounded to float16, dtype float16:
refbp.cases.dtypes.at_dtype), so refbp's own code (the implementation the bugs are planted in) computes
in float16. Their assertions (which reference fails which tensor, which diagnosis) are the
float64 ones.

Left out (`NOT_IN_FLOAT16`), each with why: mostly a planted error below what float16 resolves at
the tensor's scale (the stick's floor, 4 x 2^-10 of the tensor's largest entry), which is no
float16 bug. A bug that scales a tensor is named by its factor (2, N), not by float16's noise in
the fitted ratio (2.00074): refbp.diagnosis.signatures.snapped.
"""

from __future__ import annotations

import pytest

import test_fd_teeth
import test_rnn_teeth
import test_teeth
from refbp.cases import load_case, parse_case
from refbp.cases.dtypes import at_dtype

FD_TEETH = (
    "test_every_method_passes_the_correct_gradient",
    "test_sampled_always_judges_every_bias_entry",
    "test_directional_reports_the_largest_entry_off_by_1e_3",
)
NOT_IN_FLOAT16 = {
    # A planted error of 1e-3 relative in one entry: under float16's own spacing (2^-10 ~ 1e-3).
    "test_a_failing_row_names_tensor_and_entry",
    "test_entrywise_methods_report_any_entry_off_by_1e_3",
    "test_sampled_weight_entries_are_caught_when_sampled",
    "test_directional_reports_the_largest_entry_off_by_1e_3",
    "test_sampled_always_judges_every_bias_entry",
    # Updating layer 1 before taking layer 0's gradient moves layer 0's update by ~2e-5 on the
    # seed: under float16's spacing at its weights (~1e-3).
    "test_update_before_all_gradients_are_taken",
    # Adam's eps (1e-8) is 0 in float16: torch's own float16 Adam has no digit (NaN), so the
    # training rows are inconclusive, for the bug as for a correct update.
    "test_adam_without_bias_correction",
    # The seed's layer-0 transpose moves its 1e-3-sized tensor by 4e-4: the torch rows catch it
    # (their stick is per tensor), the finite-difference rows, one tolerance for the case (the
    # widest tensor's), do not.
    "test_transposed_weight_gradient",
}


def as_float16(case):
    return at_dtype(case, "float16")


def _collect(module, label: str, only=None) -> list[str]:
    names = []
    for name, function in vars(module).items():
        if (
            name.startswith("test_")
            and callable(function)
            and name not in NOT_IN_FLOAT16
            and (only is None or name in only)
        ):
            names.append(f"test_float16_{label}_{name[len('test_') :]}")
            globals()[names[-1]] = function
    return names


COLLECTED = _collect(test_teeth, "mlp") + _collect(test_rnn_teeth, "rnn") + _collect(test_fd_teeth, "fd", FD_TEETH)


@pytest.fixture(autouse=True)
def float16_cases(monkeypatch):
    monkeypatch.setattr(test_teeth, "load_case", lambda path: as_float16(load_case(path)))
    monkeypatch.setattr(test_rnn_teeth, "parse_case", lambda document: as_float16(parse_case(document)))
    monkeypatch.setattr(test_fd_teeth, "CASE", as_float16(test_fd_teeth.CASE))


def test_every_teeth_test_is_collected_again_or_said_why_not():
    bug_tests = {n for m in (test_teeth, test_rnn_teeth) for n in vars(m) if n.startswith("test_")}
    assert len(COLLECTED) == len(bug_tests - NOT_IN_FLOAT16) + len(set(FD_TEETH) - NOT_IN_FLOAT16)
    assert len(COLLECTED) >= 15


def test_the_cases_really_are_float16(float16_cases):
    assert test_teeth.load_case(test_teeth.SEED).dtype == "float16"
    assert test_rnn_teeth.parse_case(test_rnn_teeth.DOCUMENT).dtype == "float16"
    assert test_fd_teeth.CASE.dtype == "float16"
