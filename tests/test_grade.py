"""refbp grade: the rubric, Gradescope's results.json (its documented fields; the total is the sum
of the parts), visibility, feedback without reference numbers, results files and variants."""

from __future__ import annotations

import json
import shutil
import sys

import pytest

from grade_checks import (
    ASSIGNMENT,
    gradescope_problems,
    reference_values,
    revealed,
    solution_result,
)
from refbp.cases import load_case
from refbp.check.suite import SuiteRun
from refbp.check.verdict import CaseVerdict, Check
from refbp.cli import main
from refbp.grade.gradescope import results_json
from refbp.grade.points import grade_run
from refbp.grade.rubric import Rubric, RubricError, parse_rubric, read_rubric

RUBRIC = ASSIGNMENT / "rubric.json"
CASE = ASSIGNMENT / "cases" / "hw-3-4-2-batch4.json"


def rubric_document(**changes) -> dict:
    document = json.loads(RUBRIC.read_text())
    document.update(changes)
    return document


@pytest.mark.parametrize(
    "changes, problem",
    [
        ({"format": "refbp-rubric/2"}, "format: must be 'refbp-rubric/1'"),
        ({"pointz": {}}, "pointz: unknown field"),
        ({"points": {"forward": -1}}, "points.forward: must be a number of points, 0 or more"),
        ({"points": {"backward": 1}}, "points.backward: unknown part"),
        ({"visibility": {"gradients": "later"}}, "visibility.gradients: 'later' is not one of"),
        ({"show_values": "yes"}, "show_values: must be true or false"),
        ({"oracles": ["torch", "magic"]}, "oracles: must be a non-empty list"),
        ({"inconclusive_credit": 2}, "inconclusive_credit: must be a number in [0, 1]"),
        ({"case_points": {"x": {"training": "3"}}}, "case_points.x.training: must be a number"),
    ],
)
def test_a_bad_rubric_is_one_line_naming_the_field(tmp_path, capsys, changes, problem):
    path = tmp_path / "rubric.json"
    path.write_text(json.dumps(rubric_document(**changes)))
    with pytest.raises(RubricError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        read_rubric(path)
    code = main(["grade", "--results", str(tmp_path), "--rubric", str(path), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and f"{path}: {problem}" in err
    assert not (tmp_path / "out").exists()


def test_the_defaults():
    rubric = parse_rubric({"format": "refbp-rubric/1"}, "r.json")
    assert rubric.points == {"forward": 1.0, "gradients": 2.0, "training": 1.0}
    assert set(rubric.visibility.values()) == {"visible"} and rubric.show_values is False
    assert rubric.points_for("any", "gradients") == 2.0


def synthetic_grade(rubric: Rubric):
    case = load_case(CASE)

    def row(quantity, tensor, passed=True, **more):
        return Check(
            quantity=quantity,
            tensor=tensor,
            reference="torch-autograd",
            max_abs_err=0.1,
            max_rel_err=0.1,
            worst_index=[0],
            atol=1e-10,
            rtol=1e-7,
            passed=passed,
            actual=0.123456789,
            expected_value=0.987654321,
            **more,
        )

    rows = [
        row("outputs", "outputs"),
        row("loss", "loss"),
        row("grads", "layers.0.weight"),
        row("grads", "layers.0.bias", False, diagnosis="not-summed-over-batch", diagnosis_note="one per example"),
        row("grads", "layers.1.weight", inconclusive=3),
        row("params_after", "layers.0.weight", False),
    ]
    verdict = CaseVerdict(
        case=case.id, implementation="s", passed=False, checks=rows, not_provided=["grads.layers.1.bias", "loss_after"]
    )
    return grade_run(SuiteRun(verdicts=[verdict], seconds=2.5), [case], rubric)


def test_points_per_part_and_results_json_fields():
    rubric = Rubric(
        points={"forward": 1, "gradients": 4, "training": 2},
        inconclusive_credit=0.5,
        visibility={"forward": "visible", "gradients": "hidden", "training": "after_due_date"},
    )
    document = results_json(synthetic_grade(rubric))
    assert gradescope_problems(document) == []
    scores = {t["extra_data"]["part"]: (t["score"], t["max_score"], t["status"]) for t in document["tests"]}
    assert scores == {
        "forward": (1.0, 1.0, "passed"),
        "gradient layers.0.weight": (1.0, 1.0, "passed"),
        "gradient layers.0.bias": (0.0, 1.0, "failed"),
        "gradient layers.1.weight": (0.5, 1.0, "failed"),  # inconclusive: the rubric's share
        "gradient layers.1.bias": (0.0, 1.0, "failed"),  # not provided
        "training": (0.0, 2.0, "failed"),
    }
    assert document["score"] == 2.5 == sum(t["score"] for t in document["tests"])
    assert {t["visibility"] for t in document["tests"] if t["extra_data"]["part"] == "training"} == {"after_due_date"}
    bias = next(t for t in document["tests"] if t["extra_data"]["part"] == "gradient layers.0.bias")
    assert "not summed over the batch" in bias["output"] and "not-summed-over-batch" in bias["tags"]
    assert "0.98765" not in json.dumps(document)  # no reference number without show_values


def test_show_values_shows_the_numbers():
    document = results_json(synthetic_grade(Rubric(show_values=True)))
    bias = next(t for t in document["tests"] if t["extra_data"]["part"] == "gradient layers.0.bias")
    assert "yours 0.123456789, reference 0.987654321" in bias["output"]


def test_the_checker_of_gradescope_fields_has_teeth():
    bad = {"score": 1.0, "tests": [{"score": 2, "max_score": 1, "status": "ok", "visibility": "later", "oops": 1}]}
    problems = "\n".join(gradescope_problems(bad))
    for expected in (
        "oops: not a documented field",
        "status: 'ok'",
        "visibility: 'later'",
        "outside [0, 1]",
        "not the sum",
    ):
        assert expected in problems


def write_results(folder, cases) -> list:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for case in cases:
        path = folder / f"{case.id}.json"
        path.write_text(json.dumps(solution_result(case)))
        paths.append(path)
    return paths


def test_results_files_graded_with_missing_parts(tmp_path, capsys):
    case = load_case(CASE)
    result = solution_result(case)
    del result["grads"]["layers.1.bias"]
    (tmp_path / "r.json").write_text(json.dumps(result))
    code = main(
        [
            "grade",
            "--results",
            str(tmp_path / "r.json"),
            str(CASE),
            "--rubric",
            str(RUBRIC),
            "--out",
            str(tmp_path / "out"),
        ]
    )
    capsys.readouterr()
    assert code == 1
    document = json.loads((tmp_path / "out" / "results.json").read_text())
    assert gradescope_problems(document) == []
    failed = [t for t in document["tests"] if t["status"] == "failed"]
    assert [t["extra_data"]["part"] for t in failed] == ["gradient layers.1.bias"]
    assert "not provided (grads.layers.1.bias)" in failed[0]["output"]
    assert document["score"] == 6.0 and document["extra_data"]["max_score"] == 7.0
    summary = (tmp_path / "out" / "summary.txt").read_text()
    assert "FAIL 0/1  hw-3-4-2-batch4: gradient dL/d(layers.1.bias)" in summary
    assert "1 more tests are shown after the due date" in summary  # the training test is after_due_date
    assert "hw-3-4-2-batch4: training" not in (tmp_path / "out" / "summary.html").read_text()


def test_grade_seed_regenerates_the_students_variant(tmp_path, capsys):
    cases = [CASE, ASSIGNMENT / "cases" / "hw-seed-2-2-2.json"]
    assert main(["cases", "variant", str(tmp_path / "mine"), "--seed", "31337", *map(str, cases)]) == 0
    capsys.readouterr()
    variant = [load_case(tmp_path / "mine" / f"{load_case(c).id}.json") for c in cases]
    answers = write_results(tmp_path / "answers", variant)
    out = tmp_path / "out"
    given = [arg for path in answers for arg in ("--results", str(path))]
    code = main(["grade", *given, *map(str, cases), "--seed", "31337", "--out", str(out)])
    assert code == 0, capsys.readouterr()
    document = json.loads((out / "results.json").read_text())
    assert document["score"] == document["extra_data"]["max_score"] > 0 and document["extra_data"]["seed"] == 31337
    # The same answers against the original numbers (or another seed) are wrong: the variant is the student's own.
    assert main(["grade", *given, *map(str, cases), "--out", str(tmp_path / "o2")]) == 1
    assert main(["grade", *given, *map(str, cases), "--seed", "1", "--out", str(tmp_path / "o3")]) == 1
    capsys.readouterr()


def test_nothing_to_grade_is_a_usage_error(tmp_path, capsys):
    assert main(["grade", "--out", str(tmp_path)]) == 2
    assert "--impl MODULE:FACTORY, --cmd 'COMMAND ARGS' or --results FILE" in capsys.readouterr().err


def test_revealed_finds_reference_numbers():
    references = reference_values([CASE])
    token = f"{references[3]:.6g}"
    assert revealed(f"dL/dW is wrong: {token}", references) == [token]
    assert revealed("shape [4, 2] where the case has [2]; seed 31337; 1.5 points", references) == []
    # a run id is hex: its digits are no number of the answer (it failed the service's grading test
    # when an id held "22813e4")
    assert revealed("recorded as run 0b1f22813e4a9c", references) == []
    assert revealed(f"got {token}, the run 0b1f22813e4a9c", references) == [token]


def test_a_program_in_any_language_graded_over_the_pipe(tmp_path, capsys):
    if shutil.which("node") is None:
        pytest.skip("node is not installed (examples/pipe/js/mlp.js)")
    command = f"node {ASSIGNMENT.parents[0] / 'pipe' / 'js' / 'mlp.js'}"
    code = main(["grade", "--cmd", command, str(CASE), "--rubric", str(RUBRIC), "--out", str(tmp_path)])
    capsys.readouterr()
    document = json.loads((tmp_path / "results.json").read_text())
    assert code == 0 and document["score"] == 7.0 and gradescope_problems(document) == []


def test_a_program_that_dies_gets_no_points_and_the_reason(tmp_path, capsys):
    command = f"{sys.executable} -c 'import sys; sys.exit(3)'"
    code = main(["grade", "--cmd", command, str(CASE), "--rubric", str(RUBRIC), "--out", str(tmp_path)])
    capsys.readouterr()
    document = json.loads((tmp_path / "results.json").read_text())
    assert code == 1 and document["score"] == 0 and gradescope_problems(document) == []
    assert all("exited with code 3" in t["output"] for t in document["tests"])
    assert "your program could not be graded" in document["output"]


def test_a_submission_that_cannot_be_imported_gets_no_points_and_the_reason(tmp_path, capsys):
    broken = tmp_path / "backprop.py"
    broken.write_text("def factory(case:\n")
    code = main(["grade", "--impl", f"{broken}:factory", str(CASE), "--out", str(tmp_path / "out")])
    capsys.readouterr()
    document = json.loads((tmp_path / "out" / "results.json").read_text())
    assert code == 1 and document["score"] == 0 and "could not be loaded" in document["output"]
    assert "SyntaxError" in document["tests"][0]["output"]
