"""What the grading tests share: Gradescope's documented results.json fields, checked; the
assignment's solution run in process (its answers are the reference values a feedback must not
show); the numbers written in a text."""

from __future__ import annotations

import importlib.util
import math
import re
from pathlib import Path

import numpy as np

from refbp.cases import load_case

ASSIGNMENT = Path(__file__).resolve().parents[1] / "examples" / "assignment"

# https://gradescope-autograders.readthedocs.io/en/latest/specs/ ("Output format"), restated here
# independently of refbp.grade.gradescope: the fields, their types and their allowed values.
TOP = {
    "score": (int, float),
    "execution_time": (int, float),
    "output": str,
    "output_format": str,
    "test_output_format": str,
    "test_name_format": str,
    "visibility": str,
    "stdout_visibility": str,
    "extra_data": dict,
    "tests": list,
    "leaderboard": list,
}
TEST = {
    "score": (int, float),
    "max_score": (int, float),
    "status": str,
    "name": str,
    "name_format": str,
    "number": str,
    "output": str,
    "output_format": str,
    "tags": list,
    "visibility": str,
    "extra_data": dict,
}
VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}
FORMATS = {"text", "html", "simple_format", "md", "ansi"}


def gradescope_problems(document: dict) -> list[str]:
    """Every way `document` departs from Gradescope's documented results.json (empty: none)."""
    problems = []

    def check(fields: dict, value: dict, where: str):
        for key, item in value.items():
            if key not in fields:
                problems.append(f"{where}{key}: not a documented field")
            elif not isinstance(item, fields[key]) or isinstance(item, bool):
                problems.append(f"{where}{key}: {type(item).__name__} where {fields[key]} belongs")
        for key in ("visibility", "stdout_visibility"):
            if key in value and value[key] not in VISIBILITY:
                problems.append(f"{where}{key}: {value[key]!r}")
        for key in ("output_format", "test_output_format", "name_format", "test_name_format"):
            if key in value and value[key] not in FORMATS:
                problems.append(f"{where}{key}: {value[key]!r}")

    check(TOP, document, "")
    tests = document.get("tests", [])
    if "score" not in document and not all("score" in t for t in tests):
        problems.append("score: required when a test has none")
    for i, test in enumerate(tests):
        check(TEST, test, f"tests[{i}].")
        if test.get("status") not in (None, "passed", "failed"):
            problems.append(f"tests[{i}].status: {test.get('status')!r}")
        if "score" in test and "max_score" in test and not 0 <= test["score"] <= test["max_score"]:
            problems.append(f"tests[{i}]: score {test['score']} outside [0, {test['max_score']}]")
    if tests and "score" in document and document["score"] != sum(t["score"] for t in tests):
        problems.append(f"score {document['score']} is not the sum of the tests' scores")
    return problems


def solution_module():
    spec = importlib.util.spec_from_file_location("assignment_solution_tests", ASSIGNMENT / "solution" / "backprop.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def solution_result(case) -> dict:
    """The correct answers to `case` (a Case), as a refbp-result/1 document."""
    from refbp.cases.export import explicit_document

    document = explicit_document(case)
    document.update(params=case.params, inputs=case.inputs, targets=case.targets)
    net = solution_module().factory(document)
    params, x, t = case.params, case.inputs, case.targets
    after = net.train(params, x, t)
    return {
        "format": "refbp-result/1",
        "case": case.id,
        "implementation": "solution",
        "outputs": net.forward(params, x).tolist(),
        "loss": net.loss(params, x, t),
        "grads": {k: v.tolist() for k, v in net.gradients(params, x, t).items()},
        "params_after": {k: v.tolist() for k, v in after.items()},
        "loss_after": net.loss(after, x, t),
    }


def reference_values(case_paths) -> np.ndarray:
    """Every number of the correct answers to the cases (what feedback must not give away)."""
    values = []
    for path in case_paths:
        result = solution_result(load_case(path))
        for key in ("outputs", "loss", "grads", "params_after", "loss_after"):
            value = result[key]
            arrays = value.values() if isinstance(value, dict) else [value]
            values += [np.ravel(np.asarray(a, dtype=float)) for a in arrays]
    return np.concatenate(values)


# A number not inside a hex word: a run id or hash ("...22813e4b...") is no number of the answer.
NUMBER = re.compile(r"(?<![0-9a-fA-F])-?\d+(?:\.\d+)?(?:e[-+]?\d+)?(?![0-9a-fA-F])")


def revealed(text: str, references: np.ndarray) -> list[str]:
    """The numbers of `text` that are reference values (to 6 digits), or decimals of 4 or more
    significant digits (no feedback number needs them without show_values; a seed is whole)."""
    found = []
    for token in NUMBER.findall(text):
        value = float(token)
        digits = len(token.lstrip("-").split("e")[0].replace(".", "").lstrip("0"))
        near = math.isfinite(value) and value != 0 and np.any(np.abs(references - value) <= 1e-6 * abs(value))
        if (digits >= 4 and ("." in token or "e" in token)) or (near and digits >= 3):
            found.append(token)
    return found
