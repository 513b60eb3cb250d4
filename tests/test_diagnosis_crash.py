"""A crashing implementation is reported with its own file, line and last frames, in one line
(issue 28, item 5): in the verdict's error (the report and the table print it as it is)."""

from __future__ import annotations

from pathlib import Path

from refbp.check.check_adapter import check_adapter_case
from refbp.diagnosis.crash import crash_line
from test_diagnosis_extended import Planted, document


def test_a_crash_names_the_implementations_file_line_and_frames():
    class Crashing(Planted):
        def gradients(self, params, inputs, targets):
            return self._inner(params)

        def _inner(self, params):
            return params["no such tensor"]

    verdict = check_adapter_case(document(), Crashing, "crashing", oracles=("torch",))
    (error,) = verdict.errors
    assert verdict.error_kind == "crash" and "\n" not in error
    here = Path(__file__).name
    assert "KeyError: 'no such tensor', at " in error and f"{here}:" in error
    assert 'in _inner (return params["no such tensor"])' in error and "before it:" in error and "in gradients" in error


def test_only_the_implementations_own_frames_are_named():
    import numpy as np

    def user_code():
        return np.linalg.inv(np.zeros((2, 2)))  # LinAlgError, raised inside numpy.linalg

    try:
        user_code()
    except np.linalg.LinAlgError as exc:
        line = crash_line(exc)
    here = Path(__file__).name
    at = line.split(", at ", 1)[1]
    assert at.split(":", 1)[0].endswith(here) and " in user_code " in at  # its own line, not numpy's
    assert "raised inside" in at and "numpy" in at.split("raised inside", 1)[1]
