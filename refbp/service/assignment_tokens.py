"""The students' tokens of the graded assignments, read from the environment, never from the
command line (a command line is shown by `ps` to every user of the machine):

    REFBP_ASSIGNMENT_TOKENS_FILE=/path/tokens.json   a file holding the JSON below
    REFBP_ASSIGNMENT_TOKENS='{...}'                  the same JSON in the variable itself

    {"backprop-1": {"alice": "<token>", "bob": "<token>"},   one token per student, or
     "backprop-2": "<token>"}                                 one token the class shares

A token names its student in the teacher's table and has its own rate limit. Every problem is
one line naming the variable and the field; a token itself is never quoted.
"""

from __future__ import annotations

import json
import os
import re

TOKENS_VARIABLE = "REFBP_ASSIGNMENT_TOKENS"
TOKENS_FILE_VARIABLE = "REFBP_ASSIGNMENT_TOKENS_FILE"
SHARED = "class"  # the student's name of a token the class shares
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
STUDENT = re.compile(r"[^\x00-\x1f/]{1,100}")
TOKEN = re.compile(r"[\x21-\x7e]{12,200}")


class AssignmentError(ValueError):
    """An assignment that cannot be served as configured: one line."""


def read_tokens(environ=None) -> tuple[tuple[str, str, str], ...]:
    """(assignment, student, token) of every token the environment gives; AssignmentError when a
    variable is not of the format."""
    environ = os.environ if environ is None else environ
    found: list[tuple[str, str, str]] = []
    path = environ.get(TOKENS_FILE_VARIABLE, "")
    if path:
        try:
            with open(path, encoding="utf-8") as file:
                text = file.read()
        except OSError as exc:
            raise AssignmentError(
                f"{TOKENS_FILE_VARIABLE}: cannot be read: {exc.strerror or type(exc).__name__}"
            ) from None
        found += _parsed(text, TOKENS_FILE_VARIABLE)
    if environ.get(TOKENS_VARIABLE, "").strip():
        found += _parsed(environ[TOKENS_VARIABLE], TOKENS_VARIABLE)
    seen: dict[str, tuple[str, str]] = {}
    for assignment, student, token in found:
        if token in seen and seen[token] != (assignment, student):
            raise AssignmentError(
                f"{assignment}.{student}: its token is also {'.'.join(seen[token])}'s (one token, one student)"
            )
        seen[token] = (assignment, student)
    return tuple(dict.fromkeys(found))


def _parsed(text: str, where: str) -> list[tuple[str, str, str]]:
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise AssignmentError(f"{where}: not JSON: {str(exc).splitlines()[0][:100]}") from None
    if not isinstance(document, dict):
        raise AssignmentError(f"{where}: an object {{assignment: {{student: token}}}} or {{assignment: token}}")
    found = []
    for assignment, tokens in document.items():
        if not NAME.fullmatch(str(assignment)):
            raise AssignmentError(
                f"{where}: {str(assignment)[:40]!r}: an assignment's name is 1-64 letters, digits, '.', '_' or '-'"
            )
        if isinstance(tokens, str):
            tokens = {SHARED: tokens}
        if not isinstance(tokens, dict) or not tokens:
            raise AssignmentError(f"{where}: {assignment}: a token, or an object {{student: token}}")
        for student, token in tokens.items():
            if not STUDENT.fullmatch(student):
                raise AssignmentError(
                    f"{where}: {assignment}: {student[:40]!r}: a student's name is 1-100 "
                    "characters, no '/' or control character"
                )
            if not isinstance(token, str) or not TOKEN.fullmatch(token):
                raise AssignmentError(f"{where}: {assignment}.{student}: a token is 12-200 visible ASCII characters")
            found.append((assignment, student, token))
    return found


def configuration_problem(names, tokens, token: str, read_token: str, store_on: bool) -> str | None:
    """Why assignments `names` cannot be served with the students' `tokens` ((assignment, student,
    token) triples), in one line; None when they can. Light (no rubric is read): `refbp serve`
    asks it before any server process starts, and each process again."""
    if not store_on:
        return "assignments need the verdict store (REFBP_DATABASE_URL is none): the teacher's table is read from it"
    if not token:
        return (
            "assignments need REFBP_TOKEN set: the teacher's token (writes, and reads: the runs and the "
            "/v1/verify answers hold the expected values)"
        )
    for assignment, student, secret in tokens:
        if assignment not in names:
            return f"a student token for {assignment!r}, which is no --assignment of this server"
        if secret in (token, read_token):
            return f"{assignment}.{student}: a student's token must not be REFBP_TOKEN or REFBP_READ_TOKEN"
    for name in names:
        if not any(assignment == name for assignment, _, _ in tokens):
            return (
                f"--assignment {name}: no student token ({TOKENS_VARIABLE} or {TOKENS_FILE_VARIABLE}; docs/service.md)"
            )
    return None
