"""The teeth tests again, every case in float32: each injected bug is still caught, and the
untouched cases still pass, under the float32 tolerances (refbp/check/tolerance.py).

The bug tests of test_teeth.py and test_rnn_teeth.py, and the finite-difference teeth of
test_fd_teeth.py that plant a wrong gradient, are collected here a second time, unchanged;
an autouse fixture makes every case they load or parse the float32 copy of itself (every
number rounded to float32, dtype float32). Their assertions (which reference fails which
tensor, and that nothing else fails) are the float64 ones.

Left out (`NOT_IN_FLOAT32`): the tests that plant a 1e-3 relative error in one small entry
(a median entry of 1e-2 or less, an absolute error near 1e-6 and below): float32's
tolerance is absolute at 2 K eps32 (1e-5 to 1e-4 for these cases, refbp/check/tolerance.py),
as the float32 row of the table was before it was derived, so such an entry is below what a
float32 check judges. Every realistic bug (a wrong formula moves whole tensors) is here.
"""

from __future__ import annotations

import pytest

import test_fd_teeth
import test_rnn_teeth
import test_teeth
from helpers import as_float32
from refbp.cases import load_case, parse_case

FD_TEETH = (
    "test_every_method_passes_the_correct_gradient",
    "test_sampled_always_judges_every_bias_entry",
    "test_directional_reports_the_largest_entry_off_by_1e_3",
)
NOT_IN_FLOAT32 = {
    "test_a_failing_row_names_tensor_and_entry",  # dE/dw of 9e-4, 1e-3 off
    "test_entrywise_methods_report_any_entry_off_by_1e_3",  # a median entry, 1e-3 off
    "test_sampled_weight_entries_are_caught_when_sampled",
}  # a sampled small entry, 1e-3 off


def _collect(module, label: str, only=None) -> list[str]:
    names = []
    for name, function in vars(module).items():
        if (
            name.startswith("test_")
            and callable(function)
            and name not in NOT_IN_FLOAT32
            and (only is None or name in only)
        ):
            names.append(f"test_float32_{label}_{name[len('test_') :]}")
            globals()[names[-1]] = function
    return names


COLLECTED = _collect(test_teeth, "mlp") + _collect(test_rnn_teeth, "rnn") + _collect(test_fd_teeth, "fd", FD_TEETH)


@pytest.fixture(autouse=True)
def float32_cases(monkeypatch):
    monkeypatch.setattr(test_teeth, "load_case", lambda path: as_float32(load_case(path)))
    monkeypatch.setattr(test_rnn_teeth, "parse_case", lambda document: as_float32(parse_case(document)))
    monkeypatch.setattr(test_fd_teeth, "CASE", as_float32(test_fd_teeth.CASE))


def test_every_teeth_test_is_collected_again():
    bug_tests = [n for m in (test_teeth, test_rnn_teeth) for n in vars(m) if n.startswith("test_")]
    assert len(COLLECTED) == len(bug_tests) - 1 + len(FD_TEETH)  # all but the one small-entry test
    assert all(name in globals() for name in COLLECTED)


def test_the_cases_really_are_float32(float32_cases):
    assert test_teeth.load_case(test_teeth.SEED).dtype == "float32"
    assert test_rnn_teeth.parse_case(test_rnn_teeth.DOCUMENT).dtype == "float32"
    assert test_fd_teeth.CASE.dtype == "float32"
