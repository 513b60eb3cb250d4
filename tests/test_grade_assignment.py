"""The example assignment end to end (examples/assignment): Gradescope's run_autograder grades the
solution with full marks; each classic wrong solution gets partial marks and the feedback that
names its bug, without a reference number; the skeleton gets none, saying what is left to do."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grade_checks import ASSIGNMENT, gradescope_problems, reference_values, revealed
from refbp.cli import main

RUBRIC = json.loads((ASSIGNMENT / "rubric.json").read_text())
CASES = [ASSIGNMENT / path for path in RUBRIC["cases"]]
# Each wrong solution: the phrase its feedback must hold, and the parts that must still pass.
WRONG = {
    "transposed_gradient": ("looks transposed", ["hw-seed-2-2-2: forward (outputs and loss)"]),
    "bias_not_summed": ("is not summed over the batch", ["hw-3-4-2-batch4: gradient dL/d(layers.0.weight)"]),
    "sigmoid_on_net": (
        "takes the sigmoid's derivative of the net input",
        ["hw-4-5-3-batch8-mse: gradient dL/d(layers.1.weight)"],
    ),
    "learning_rate_sign": ("has the wrong sign", ["hw-4-5-3-batch8-mse: gradient dL/d(layers.0.weight)"]),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict:
    """results.json and the summaries of each submission, graded in process as run_autograder grades."""
    found = {}
    for name, path in [
        ("solution", "solution/backprop.py"),
        ("skeleton", "skeleton/backprop.py"),
        *[(wrong, f"wrong/{wrong}.py") for wrong in WRONG],
    ]:
        out = tmp_path_factory.mktemp(name)
        code = main(
            [
                "grade",
                "--impl",
                f"{ASSIGNMENT / path}:factory",
                "--rubric",
                str(ASSIGNMENT / "rubric.json"),
                "--out",
                str(out),
            ]
        )
        found[name] = (
            code,
            json.loads((out / "results.json").read_text()),
            (out / "summary.txt").read_text(),
            (out / "summary.html").read_text(),
        )
    return found


@pytest.fixture(scope="module")
def references() -> object:
    return reference_values(CASES)


def test_the_solution_gets_full_marks(graded):
    code, results, summary, _ = graded["solution"]
    assert code == 0 and gradescope_problems(results) == []
    assert all(t["status"] == "passed" for t in results["tests"])
    assert results["score"] == results["extra_data"]["max_score"] == 24.0
    assert len(results["tests"]) == 3 * 6  # forward, four gradient tensors and training, per case
    assert "24 / 24 points" in summary


@pytest.mark.parametrize("wrong", WRONG)
def test_a_classic_wrong_solution_gets_partial_marks_and_its_feedback(graded, references, wrong):
    code, results, summary, page = graded[wrong]
    phrase, still_passing = WRONG[wrong]
    assert code == 1 and gradescope_problems(results) == []
    assert 0 < results["score"] < results["extra_data"]["max_score"]
    assert results["score"] == sum(t["score"] for t in results["tests"])
    failed = [t for t in results["tests"] if t["status"] == "failed"]
    assert any(phrase in t["output"] for t in failed), [t["output"] for t in failed]
    passed = {t["name"] for t in results["tests"] if t["status"] == "passed"}
    assert set(still_passing) <= passed
    # No feedback, summary or page gives a reference number away (the rubric hides them).
    for text in [results["output"], *(t["output"] for t in results["tests"]), summary, page]:
        assert revealed(text, references) == [], text


def test_the_learning_rate_sign_fails_the_training_only(graded):
    _, results, _, _ = graded["learning_rate_sign"]
    failed = {t["extra_data"]["part"] for t in results["tests"] if t["status"] == "failed"}
    assert failed == {"training"}
    assert {t["visibility"] for t in results["tests"] if t["extra_data"]["part"] == "training"} == {"after_due_date"}


def test_the_skeleton_gets_no_points_and_says_what_is_left(graded):
    code, results, _, _ = graded["skeleton"]
    assert code == 1 and results["score"] == 0 and gradescope_problems(results) == []
    assert all("NotImplementedError: TODO" in t["output"] for t in results["tests"])


def test_run_autograder_as_gradescope_runs_it(tmp_path):
    """The script itself, with Gradescope's folders moved: a wrong submission on its own variant."""
    submission, results = tmp_path / "submission", tmp_path / "results"
    submission.mkdir()
    shutil.copy(ASSIGNMENT / "wrong" / "sigmoid_on_net.py", submission / "backprop.py")
    shutil.copytree(ASSIGNMENT / "solution", tmp_path / "solution")  # what the wrong solution reads by path
    (tmp_path / "metadata.json").write_text(json.dumps({"users": [{"id": 4242, "name": "A Student"}]}))
    environment = dict(
        os.environ,
        AUTOGRADER_SOURCE=str(ASSIGNMENT),
        AUTOGRADER_SUBMISSION=str(submission),
        AUTOGRADER_RESULTS=str(results),
        AUTOGRADER_METADATA=str(tmp_path / "metadata.json"),
        REFBP_VARIANTS="1",
        REFBP=str(Path(sys.executable).with_name("refbp")),
    )
    done = subprocess.run(
        [str(ASSIGNMENT / "run_autograder")], env=environment, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    document = json.loads((results / "results.json").read_text())
    assert gradescope_problems(document) == []
    assert 0 < document["score"] < document["extra_data"]["max_score"] and document["extra_data"]["seed"] == 4242
    assert "seed 4242" in document["output"]
    assert (results / "summary.html").exists() and (results / "summary.txt").exists()


def test_run_autograder_reports_a_broken_autograder_to_the_student(tmp_path):
    results = tmp_path / "results"
    environment = dict(
        os.environ,
        AUTOGRADER_SOURCE=str(tmp_path),
        AUTOGRADER_SUBMISSION=str(tmp_path),
        AUTOGRADER_RESULTS=str(results),
        REFBP=str(Path(sys.executable).with_name("refbp")),
    )
    done = subprocess.run(
        [str(ASSIGNMENT / "run_autograder")], env=environment, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0
    document = json.loads((results / "results.json").read_text())
    assert document["score"] == 0 and "not your mistake" in document["output"]
    assert gradescope_problems(document) == []
