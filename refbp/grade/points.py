"""Points per case part, as the rubric weighs them: a run's verdicts become graded tests.

One test per part (refbp.check.parts) of every case the rubric grades: the forward, each
gradient tensor (the case's gradient points split evenly over its tensors) and the training. A
part that passed gets its points; an inconclusive one the rubric's `inconclusive_credit` share;
anything else none. Scores are rounded to 6 decimals and the total is their sum, in order, so
the total equals the sum of the parts exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..check.parts import GRADIENTS, INCONCLUSIVE, PASS, Part, expected_parts, verdict_parts
from .feedback import label, part_feedback
from .rubric import Rubric


@dataclass
class GradedPart:
    case: str
    part: Part
    name: str  # "seed-2-2-2: gradient dL/d(layers.0.weight)"
    category: str
    max_score: float
    score: float
    output: str
    visibility: str

    @property
    def status(self) -> str:
        return "passed" if self.part.state == PASS else "failed"

    @property
    def diagnoses(self) -> list[str]:
        return sorted({c.diagnosis for c in self.part.failed_checks() if c.diagnosis})


@dataclass
class Grade:
    title: str
    tests: list[GradedPart] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # about the whole submission (a case not answered, ...)
    seed: int | None = None
    seconds: float = 0.0

    @property
    def score(self) -> float:
        total = 0.0
        for test in self.tests:
            total += test.score
        return total

    @property
    def max_score(self) -> float:
        total = 0.0
        for test in self.tests:
            total += test.max_score
        return total


def _points(rubric: Rubric, case, part: Part) -> float:
    total = rubric.points_for(case.id, part.category)
    if part.category == GRADIENTS:
        total /= max(1, sum(category == GRADIENTS for category, _ in expected_parts(case)))
    return round(total, 6)


def grade_run(run, cases: list, rubric: Rubric, seed: int | None = None) -> Grade:
    """The graded tests of `run`'s verdicts for `cases` (in their order): a case the run has no
    verdict for (a results file that does not answer it) gets no points, saying so."""
    grade = Grade(rubric.title, seed=seed, seconds=run.seconds)
    verdicts = {v.case: v for v in run.verdicts}
    known = {case.id for case in cases}
    grade.notes += [
        f"{v.errors[0] if v.errors else v.case}: not graded (not a case of this assignment)"
        for v in run.verdicts
        if v.case not in known
    ]
    for case in cases:
        verdict = verdicts.get(case.id)
        if verdict is None:
            grade.notes.append(f"{case.id}: no answer was given for this case")
            parts = [
                Part(case.id, name, category, missing=["the whole case"]) for category, name in expected_parts(case)
            ]
        elif verdict.error_kind == "unsupported":
            parts = [
                Part(case.id, name, category, errors=["your implementation declined this case (returned None)"])
                for category, name in expected_parts(case)
            ]
        else:
            asked = {name for _, name in expected_parts(case)}  # input gradients are not asked of a student
            parts = [p for p in verdict_parts(verdict, case) if p.name in asked]
        departure = verdict.first_departure if verdict is not None else ""
        for part in parts:
            points = _points(rubric, case, part)
            share = 1.0 if part.state == PASS else rubric.inconclusive_credit if part.state == INCONCLUSIVE else 0.0
            grade.tests.append(
                GradedPart(
                    case.id,
                    part,
                    f"{case.id}: {label(part)}",
                    part.category,
                    points,
                    round(points * share, 6),
                    part_feedback(part, departure, rubric.show_values),
                    rubric.visibility[part.category],
                )
            )
    return grade
