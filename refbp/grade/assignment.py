"""An assignment graded where its expected values stay: the rubric and its cases loaded once
(`load_assignment`), a result document (refbp-result/1 or a refbp-results/1 bundle, as `refbp
verify` and `refbp grade --results` read them) judged and graded against them
(`grade_document`), what the student may see of the grade (`student_view`) and what is kept of
it beside the run in the verdict store (`grade_facts`).

The service's grading route (refbp.service.grading) is a thin shell over these; so is anything
else that grades results it was sent rather than files.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone

from ..check.results import results_in
from ..check.suite import SuiteRun
from ..check.verify import judge_results
from .points import Grade, grade_run
from .rubric import Rubric, read_rubric
from .submit import assignment_cases
from .summary import SHOWN_LATER

BODY = "submission"


@dataclass(frozen=True)
class Assignment:
    name: str
    rubric: Rubric
    cases: tuple  # the cases graded, in the rubric's order
    suite: dict  # the same cases by id (what results are judged against)


def load_assignment(name: str, rubric_path) -> Assignment:
    """The rubric at `rubric_path` and its cases (its `cases`, else the installed suite);
    RubricError or GradeError, one line, when either cannot be used."""
    rubric = read_rubric(rubric_path)
    _, cases = assignment_cases(rubric)
    return Assignment(name, rubric, tuple(cases), {case.id: case for case in cases})


def grade_document(document, assignment: Assignment, executor=None, where: str = BODY) -> tuple[Grade, SuiteRun]:
    """The grade of a parsed result document, and the run it was graded from (for the store).
    CaseError (naming the field) when the document is not of the formats; a result for a case
    that is not the assignment's is bad input, noted in the grade and worth nothing."""
    start = time.perf_counter()
    results = results_in(document, where)
    rubric = assignment.rubric
    run = SuiteRun(
        started=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        oracles=tuple(rubric.oracles),
        searched=(where,),
    )
    run.verdicts = judge_results(results, assignment.suite, oracles=rubric.oracles, executor=executor)
    run.implementation = ", ".join(sorted({v.implementation for v in run.verdicts if v.implementation}))
    run.seconds = time.perf_counter() - start
    return grade_run(run, list(assignment.cases), rubric), run


def student_view(grade: Grade) -> dict:
    """What the student sees (refbp.grade.summary's rule): the total, each visible test with its
    points and feedback (which holds no reference value unless the rubric's show_values), how
    many more are shown after the due date, and the notes. Hidden tests are not named."""
    shown = [
        {"name": t.name, "score": t.score, "max_score": t.max_score, "status": t.status, "feedback": t.output}
        for t in grade.tests
        if t.visibility == "visible"
    ]
    return {
        "title": grade.title,
        "score": grade.score,
        "max_score": grade.max_score,
        "tests": shown,
        "shown_later": sum(t.visibility in SHOWN_LATER for t in grade.tests),
        "notes": list(grade.notes),
    }


def grade_facts(grade: Grade) -> dict:
    """What the store keeps of a grade beside its run (the teacher's table is read from it): the
    total and each test's points and status. The verdicts themselves are the run's rows."""
    return {
        "score": grade.score,
        "max_score": grade.max_score,
        "tests": [[t.name, t.score, t.max_score, t.status] for t in grade.tests],
    }
