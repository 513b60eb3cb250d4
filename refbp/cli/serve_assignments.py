"""`refbp serve --assignment NAME=RUBRIC`: the graded assignments, checked before any server
process starts, each problem one line (exit 2): the name, the rubric and its cases, the
students' tokens (from the environment: refbp.service.assignment_tokens), the teacher's token
and the store."""

from __future__ import annotations

import os
from pathlib import Path

from refbp.service.assignment_tokens import NAME, AssignmentError, configuration_problem, read_tokens
from refbp.service.settings import READ_TOKEN_VARIABLE, TOKEN_VARIABLE

HELP = (
    "grade submissions to an assignment (repeat): students POST their results to "
    "/v1/assignments/NAME/submissions with their token (REFBP_ASSIGNMENT_TOKENS or "
    "REFBP_ASSIGNMENT_TOKENS_FILE, never on the command line) and get points and feedback, never the "
    "expected values; the teacher reads /v1/assignments/NAME/submissions (JSON, ?format=csv) and "
    "/assignments/NAME with REFBP_TOKEN or REFBP_READ_TOKEN; needs REFBP_TOKEN (docs/service.md)"
)


def register(parser) -> None:
    parser.add_argument("--assignment", action="append", metavar="NAME=RUBRIC", help=HELP)
    parser.add_argument(
        "--submissions-per-minute",
        type=int,
        default=10,
        metavar="N",
        help="submissions per student token and minute, per server process, beyond which a "
        "submission gets 429 with Retry-After (default: 10)",
    )


def assignments(args, store_on: bool) -> tuple[tuple[tuple[str, str], ...], str | None]:
    """((name, the rubric's absolute path) of each --assignment, None) or ((), the problem)."""
    from refbp.grade.rubric import RubricError, read_rubric
    from refbp.grade.submit import GradeError, assignment_cases

    if not args.assignment:
        return (), None
    if args.submissions_per_minute < 1:
        return (), f"--submissions-per-minute: {args.submissions_per_minute} is out of range"
    if args.open_reads:
        return (
            (),
            "--open-reads: a server with assignments keeps its reads behind a token (its runs hold the "
            "expected values)",
        )
    pairs: dict[str, str] = {}
    for given in args.assignment:
        name, sep, path = given.partition("=")
        if not sep or not NAME.fullmatch(name) or not path:
            return (), (f"--assignment {given[:80]!r}: NAME=RUBRIC.json, NAME 1-64 letters, digits, '.', '_' or '-'")
        if name in pairs:
            return (), f"--assignment {name}: given twice"
        try:
            assignment_cases(read_rubric(path))
        except (RubricError, GradeError) as exc:
            return (), f"--assignment {name}: {exc}"
        pairs[name] = str(Path(path).resolve())
    try:
        tokens = read_tokens()
    except AssignmentError as exc:
        return (), str(exc)
    problem = configuration_problem(
        list(pairs), tokens, os.environ.get(TOKEN_VARIABLE, ""), os.environ.get(READ_TOKEN_VARIABLE, ""), store_on
    )
    return (tuple(pairs.items()), None) if problem is None else ((), problem)
