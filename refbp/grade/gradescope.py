"""Gradescope's results.json of a grade (https://gradescope-autograders.readthedocs.io/en/latest/specs/).

The fields written are the specification's: at the top `score`, `execution_time`, `output`,
`output_format`, `visibility`, `stdout_visibility`, `extra_data` and `tests`; per test `score`,
`max_score`, `status` (passed or failed), `name`, `number`, `output`, `output_format`, `tags`,
`visibility` and `extra_data`. `score` is the sum of the tests' scores.
"""

from __future__ import annotations

from typing import Any

from refbp import __version__

from .points import Grade

TOP_FIELDS = (
    "score",
    "execution_time",
    "output",
    "output_format",
    "test_output_format",
    "test_name_format",
    "visibility",
    "stdout_visibility",
    "extra_data",
    "tests",
    "leaderboard",
)
TEST_FIELDS = (
    "score",
    "max_score",
    "status",
    "name",
    "name_format",
    "number",
    "output",
    "output_format",
    "tags",
    "visibility",
    "extra_data",
)


def summary_output(grade: Grade) -> str:
    """The text of the whole submission: the score line per part kind, then the notes."""
    lines = [f"{grade.title}: {grade.score:g} / {grade.max_score:g} points"]
    for category in ("forward", "gradients", "training"):
        tests = [t for t in grade.tests if t.category == category]
        if tests:
            lines.append(f"  {category}: {sum(t.status == 'passed' for t in tests)}/{len(tests)} parts correct")
    if grade.seed is not None:
        lines.append(f"  your variant of the cases: seed {grade.seed}")
    lines += [f"note: {note}" for note in grade.notes]
    return "\n".join(lines)


def results_json(grade: Grade) -> dict:
    tests: list[dict[str, Any]] = []
    numbers: dict[str, int] = {}
    for test in grade.tests:
        case_number = numbers.setdefault(test.case, len(numbers) + 1)
        part_number = sum(t["extra_data"]["case"] == test.case for t in tests) + 1
        tests.append(
            {
                "score": test.score,
                "max_score": test.max_score,
                "status": test.status,
                "name": test.name,
                "number": f"{case_number}.{part_number}",
                "output": test.output,
                "output_format": "text",
                "tags": [test.category, *test.diagnoses],
                "visibility": test.visibility,
                "extra_data": {"case": test.case, "part": test.part.name, "state": test.part.state},
            }
        )
    score = 0.0
    for entry in tests:  # in order, as a reader sums them: the total equals the sum of the parts
        score += entry["score"]
    return {
        "score": score,
        "execution_time": round(grade.seconds, 3),
        "output": summary_output(grade),
        "output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "extra_data": {"refbp": __version__, "seed": grade.seed, "max_score": grade.max_score},
        "tests": tests,
    }
