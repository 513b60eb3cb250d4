"""`refbp grade`: a student's submission graded into Gradescope's results.json and two summaries."""

from __future__ import annotations

import argparse
import sys

from .usage import fail_usage, folder_problem, os_problem

HELP = """\
Grade a submission, part by part, as the rubric weighs the parts (docs/grading.md):
the forward, each gradient tensor and the training of every case are one test each,
passed or failed by refbp's checks (torch autograd in float64, finite differences, the
published values), with feedback from the diagnosis ("dL/d(layers.0.weight) looks
transposed") and no reference number unless the rubric's show_values is true.

    refbp grade --impl submission/backprop.py:factory --rubric rubric.json --out results/
    refbp grade --cmd "node mlp.js" --rubric rubric.json --out results/
    refbp grade --results my-results/ --rubric rubric.json --seed 1234 --out results/

Writes into --out: results.json (Gradescope's format: score = the sum of the tests),
summary.txt and summary.html (what the student may see). --seed S grades the variant of
the cases that `refbp cases variant --seed S` writes (new numbers, the same questions).
The submission runs in a guarded worker: one that exits, hangs (rubric's timeout) or
cannot be imported gets no points for what it could not do, with the reason.
Exit codes: 0 full marks, 1 fewer, 2 the rubric, the cases or --out cannot be used.
"""


def register(sub):
    p = sub.add_parser(
        "grade",
        help="grade a submission into Gradescope's results.json",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="case files or folders (default: the rubric's cases, else the installed suite)",
    )
    what = p.add_mutually_exclusive_group()
    what.add_argument("--impl", metavar="MODULE:FACTORY", help="a Python implementation (adapter protocol)")
    what.add_argument(
        "--cmd",
        metavar="'COMMAND ARGS'",
        help="a program in any language speaking refbp-pipe/1 on its stdin and stdout "
        "(docs/formats.md section 11), as `refbp check --cmd` asks it",
    )
    what.add_argument(
        "--results",
        action="append",
        metavar="FILE",
        help="a refbp-result/1 file, a bundle or a folder of them (repeat for several)",
    )
    p.add_argument("--rubric", metavar="FILE", help="the rubric (refbp-rubric/1; default: docs/grading.md's defaults)")
    p.add_argument("--seed", type=int, help="grade the student's variant of the cases for this seed")
    p.add_argument(
        "--out",
        metavar="DIR",
        default="results",
        help="where results.json, summary.txt and summary.html go (default: ./results)",
    )
    p.add_argument("--name", default="submission", help="the submission's name in its verdicts (default: submission)")
    p.set_defaults(handler=handle)


def handle(args) -> int:
    from refbp.grade.rubric import Rubric, RubricError, read_rubric
    from refbp.grade.submit import GradeError, Submission, grade_submission
    from refbp.grade.summary import text_summary, write_grade

    if not (args.impl or args.results or args.cmd):
        return fail_usage(
            "refbp grade: give the submission: --impl MODULE:FACTORY, --cmd 'COMMAND ARGS' or --results FILE"
        )
    if args.seed is not None and args.seed < 0:
        return fail_usage(f"--seed {args.seed}: must be in [0, 2^63 - 1]")
    problem = folder_problem("--out", args.out)
    if problem:
        return fail_usage(problem)
    try:
        rubric = read_rubric(args.rubric) if args.rubric else Rubric()
        grade = grade_submission(
            Submission(args.impl, tuple(args.results or ()), args.cmd, args.name), rubric, args.paths or None, args.seed
        )
    except (RubricError, GradeError) as exc:
        return fail_usage(str(exc))
    try:
        written = write_grade(grade, args.out)
    except OSError as exc:
        return fail_usage(f"--out {args.out}: cannot write the results: {os_problem(exc)}")
    print(text_summary(grade), end="")
    print(f"refbp grade: wrote {written}, summary.txt, summary.html", file=sys.stderr)
    return 0 if grade.score == grade.max_score else 1
