"""Running a submission to grade it: a Python implementation (`--impl`, checked as `refbp check`
checks one, in a guarded worker), a program in any language (`--cmd`, asked over the pipe as
`refbp check --cmd` asks it) or results files (`--results`, judged as `refbp verify` judges
them), on the assignment's cases or, with a seed, on the student's variant of them.

What goes wrong on the teacher's side (a case file, a folder) is a GradeError (exit 2, nothing
graded); what goes wrong with the student's submission (it does not import, a result file is not
JSON) is part of the grade: no points, and the reason in the feedback.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from refbp.cases import SUITE_DIR

from ..check.adapter import AdapterError
from ..check.suite import SuiteRun, load_cases
from .points import Grade, grade_run
from .rubric import Rubric
from .variants import VariantError, write_variants


class GradeError(ValueError):
    """The assignment cannot be graded as given (the teacher's side): one line."""


@dataclass(frozen=True)
class Submission:
    impl: str | None = None  # MODULE:FACTORY or path/to/file.py:FACTORY
    results: tuple[str, ...] = ()  # refbp-result/1 files, bundles or folders
    cmd: str | None = None  # a program in any language speaking refbp-pipe/1 (refbp.pipe)
    name: str = "submission"


def assignment_cases(rubric: Rubric, paths=None, seed: int | None = None, workdir=None):
    """(the case paths to check, the cases): the rubric's cases (or `paths`, or the installed
    suite), or their variants for `seed`, written into `workdir`."""
    chosen = list(paths or rubric.cases or [SUITE_DIR])
    if seed is not None:
        try:
            write_variants(chosen, seed, workdir, force=True)
        except VariantError as exc:
            raise GradeError(str(exc)) from None
        chosen = [Path(workdir)]
    loaded = load_cases(chosen)
    problems = [error for item in loaded.bad for error in item.errors]
    if problems:
        raise GradeError(problems[0] + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""))
    if not loaded.cases:
        raise GradeError(f"nothing to grade: no case file in {', '.join(map(str, chosen))}")
    return chosen, loaded.cases


def run_submission(submission: Submission, case_paths, rubric: Rubric) -> tuple[SuiteRun | None, str]:
    """(the run, "") or (None, why the submission could not be run at all)."""
    if submission.cmd:
        return _run_over_pipe(submission, case_paths, rubric)
    if submission.impl:
        from ..check.impl_facts import implementation_facts
        from ..check.suite import run_suite
        from ..check.units import CheckWith, shippable_spec
        from ..parallel import start_workers

        start_workers(1, None, guarded=True)
        try:
            implementation_facts(submission.impl, rubric.timeout)
        except AdapterError as exc:
            return None, f"your submission could not be loaded: {exc}"
        check_with = CheckWith(impl=shippable_spec(submission.impl), name=submission.name)
        run = run_suite(
            case_paths, oracles=rubric.oracles, progress=False, check_with=check_with, timeout=rubric.timeout
        )
        return run, ""
    from ..check.verify import verify_results

    return verify_results(list(submission.results), case_paths, oracles=rubric.oracles, progress=False), ""


def _run_over_pipe(submission: Submission, case_paths, rubric: Rubric) -> tuple[SuiteRun | None, str]:
    """The cases asked of a command over the pipe (as `refbp check --cmd`): a command that cannot
    start, dies, hangs past the rubric's timeout or garbles its answers gets no points, with why."""
    from ..check.suite import run_suite
    from ..check.units import CheckWith
    from ..pipe import PIPE_PREFIX, PipeBroken, close_all, start

    assert submission.cmd is not None  # asked only for a submission given as a command
    try:
        start(submission.cmd, rubric.timeout)
        check_with = CheckWith(impl=PIPE_PREFIX + submission.cmd, name=submission.name)
        return run_suite(case_paths, oracles=rubric.oracles, progress=False, check_with=check_with), ""
    except (PipeBroken, ValueError) as exc:
        return None, f"your program could not be graded: {exc}"
    finally:
        close_all()


def grade_submission(submission: Submission, rubric: Rubric, paths=None, seed: int | None = None) -> Grade:
    """The grade of a submission; GradeError when the assignment itself cannot be graded."""
    if not (submission.impl or submission.results or submission.cmd):
        raise GradeError("nothing to grade: give --impl MODULE:FACTORY, --cmd 'COMMAND ARGS' or --results FILE")
    with tempfile.TemporaryDirectory(prefix="refbp-variant-") as workdir:
        case_paths, cases = assignment_cases(rubric, paths, seed, workdir)
        run, problem = run_submission(submission, case_paths, rubric)
    if run is None:  # nothing ran: every part gets no points, with the reason
        grade = grade_run(SuiteRun(), cases, rubric, seed)
        grade.notes = [problem]
        for test in grade.tests:
            test.output = problem
        return grade
    return grade_run(run, cases, rubric, seed)
