"""Expected failures (`--xfails FILE`): which failures a run expects, and what became of them.

The file (docs/formats.md, "Expected failures") has one entry a line, `PATTERN  # REASON`, the
pattern `CASE`, `CASE/QUANTITY` or `CASE/QUANTITY/TENSOR`, each part a shell-style glob
(fnmatch). A failed row that an entry covers is an expected failure: a case whose failures are
all covered is XFAIL and does not fail the run. An entry whose rows all passed is XPASS: its
bug is fixed (or never was), and the entry should go; with `--strict-xfail` it fails the run,
as array-api-tests and pytest's `xfail_strict` do. Bad input (a bad file) never becomes an
expected failure.
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path

from .parts import part_of
from .suite import EXIT_FAILED, EXIT_PASSED, SuiteRun
from .verdict import CaseVerdict, Check, ErrorKind, VerdictState

XFAIL, XPASS = "XFAIL", "XPASS"
QUANTITIES = ("outputs", "loss", "intermediates", "grads", "input_grads", "params_after", "loss_after")
_CASE_GLOB = re.compile(r"[a-z0-9._*?\[\]!-]+")
_GLOB = re.compile(r"[*?\[]")


class XfailsError(ValueError):
    """A file of expected failures that cannot be read: `file:line: field: problem`, one line."""


@dataclass(frozen=True)
class Expectation:
    pattern: str
    reason: str
    line: int
    case: str
    quantity: str | None = None
    tensor: str | None = None

    def matches_case(self, case_id: str) -> bool:
        return fnmatch.fnmatchcase(case_id, self.case)

    def matches(self, case_id: str, quantity: str, tensor: str) -> bool:
        return (
            self.matches_case(case_id)
            and (self.quantity is None or fnmatch.fnmatchcase(quantity, self.quantity))
            and (self.tensor is None or fnmatch.fnmatchcase(tensor, self.tensor))
        )

    def where(self, path: str | os.PathLike[str]) -> str:
        return f"{path}:{self.line}"


def read_xfails(path: str | os.PathLike[str]) -> list[Expectation]:
    """The entries of a file of expected failures; XfailsError naming the file, line and problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise XfailsError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise XfailsError(f"{path}: cannot be read: {exc.strerror or type(exc).__name__}") from None
    entries: list[Expectation] = []
    seen: dict[str, int] = {}  # pattern -> the line it is on
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        entry = parse_entry(line, number, path)
        if entry.pattern in seen:
            raise XfailsError(f"{path}:{number}: pattern: {entry.pattern!r} is already on line {seen[entry.pattern]}")
        seen[entry.pattern] = number
        entries.append(entry)
    return entries


def parse_entry(line: str, number: int, path: str | os.PathLike[str]) -> Expectation:
    where = f"{path}:{number}"
    pattern, hash_mark, reason = line.partition("#")
    pattern, reason = pattern.strip(), reason.strip()
    if not hash_mark or not reason:
        raise XfailsError(f"{where}: reason: missing (write `PATTERN  # why it is expected to fail`)")
    parts = pattern.split("/")
    if len(parts) > 3 or any(not p.strip() for p in parts):
        raise XfailsError(f"{where}: pattern: {pattern[:80]!r} is not CASE, CASE/QUANTITY or CASE/QUANTITY/TENSOR")
    case = parts[0]
    quantity, tensor = (parts[1] if len(parts) > 1 else None), (parts[2] if len(parts) > 2 else None)
    if not _CASE_GLOB.fullmatch(case):
        raise XfailsError(f"{where}: pattern: case {case[:80]!r}: a case id is [a-z0-9._-] (with * ? [] globs)")
    if quantity is not None and not _GLOB.search(quantity) and quantity not in QUANTITIES:
        raise XfailsError(f"{where}: pattern: unknown quantity {quantity[:40]!r} (known: {', '.join(QUANTITIES)})")
    return Expectation(pattern, reason, number, case, quantity, tensor)


@dataclass
class CaseMark:
    """What the expectations made of one case: XFAIL (every failure expected), XPASS (an
    entry's rows all passed, no failure left), or "" (a failure no entry covers: it still fails)."""

    mark: str
    reasons: list[str] = field(default_factory=list)
    parts: dict[str, tuple[str, list[str]]] = field(default_factory=dict)  # part name -> (mark, reasons)


@dataclass
class ExpectedRun(SuiteRun):
    """A SuiteRun read with expected failures: an XFAIL case is not failed; an XPASS fails the run
    only with `strict_xfail`."""

    marks: dict[str, CaseMark] = field(default_factory=dict)
    xpasses: list[tuple[str, Expectation]] = field(default_factory=list)
    unmatched: list[Expectation] = field(default_factory=list)
    strict_xfail: bool = False
    xfails_path: str = ""

    @property
    def failed(self) -> list[CaseVerdict]:
        return [v for v in super().failed if self.marks.get(v.case, CaseMark("")).mark not in (XFAIL, XPASS)]

    @property
    def expected_failures(self) -> list[CaseVerdict]:
        return [v for v in self.verdicts if self.marks.get(v.case, CaseMark("")).mark == XFAIL]

    def exit_code(self) -> int:
        code = super().exit_code()
        if code == EXIT_PASSED and self.strict_xfail and self.xpasses:
            return EXIT_FAILED
        return code


def with_expectations(
    run: SuiteRun, expectations: list[Expectation], strict_xfail: bool = False, path: str = ""
) -> ExpectedRun:
    """The run read with `expectations`: each case's mark, the XPASS entries, the entries that
    matched no case of the run."""
    expected = ExpectedRun(
        **{f.name: getattr(run, f.name) for f in fields(SuiteRun) if f.init},
        strict_xfail=strict_xfail,
        xfails_path=str(path),
    )
    for f in fields(SuiteRun):
        if not f.init:  # a field the run sets itself: carried over as it is
            setattr(expected, f.name, getattr(run, f.name))
    used: set[str] = set()
    for verdict in run.verdicts:
        if verdict.error_kind in (ErrorKind.INPUT, ErrorKind.UNSUPPORTED):
            continue  # bad input is never expected; a declined case was not checked
        entries = [e for e in expectations if e.matches_case(verdict.case)]
        if not entries:
            continue
        used.update(e.pattern for e in entries)
        mark, xpassed = mark_case(verdict, entries)
        expected.marks[verdict.case] = mark
        expected.xpasses += [(verdict.case, e) for e in xpassed]
    expected.unmatched = [e for e in expectations if e.pattern not in used]
    return expected


def mark_case(verdict: CaseVerdict, entries: list[Expectation]) -> tuple[CaseMark, list[Expectation]]:
    """(the case's mark, the entries that XPASSed) of a verdict and the entries naming its case."""

    def covering(check: Check) -> list[Expectation]:
        return [e for e in entries if e.matches(verdict.case, check.quantity, check.tensor)]

    failed = verdict.failed_checks()
    case_level = [e for e in entries if e.quantity is None]
    uncovered = [c for c in failed if not covering(c)]
    errors_uncovered = bool(verdict.errors) and not case_level
    held = {e.pattern for c in failed for e in covering(c)}
    if verdict.errors:
        held.update(e.pattern for e in case_level)
    xpassed = []
    for entry in entries:
        rows = [c for c in verdict.checks if entry.matches(verdict.case, c.quantity, c.tensor)]
        if entry.pattern not in held and rows and all(c.state is VerdictState.PASS for c in rows):
            xpassed.append(entry)
    parts: dict[str, tuple[str, list[str]]] = {}
    for check in failed:
        name = part_of(check.quantity, check.tensor)[1]
        reasons = [e.reason for e in covering(check)]
        mark, known = parts.get(name, (XFAIL, []))
        parts[name] = (XFAIL if mark == XFAIL and reasons else "", known + [r for r in reasons if r not in known])
    for entry in xpassed:
        for check in verdict.checks:
            name = part_of(check.quantity, check.tensor)[1]
            if entry.matches(verdict.case, check.quantity, check.tensor) and name not in parts:
                parts[name] = (XPASS, [entry.reason])
    reasons = list(dict.fromkeys(e.reason for e in entries if e.pattern in held))
    if uncovered or errors_uncovered:
        return CaseMark("", reasons, parts), xpassed
    if failed or verdict.errors:
        return CaseMark(XFAIL, reasons, parts), xpassed
    if xpassed:
        return CaseMark(XPASS, [e.reason for e in xpassed], parts), xpassed
    return CaseMark("", reasons, parts), xpassed
