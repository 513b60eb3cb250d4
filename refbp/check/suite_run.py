"""What a run of many cases gave (`SuiteRun`): its verdicts sorted by state, and its exit code.

A run that checked nothing never passes: no case found, or none the implementation supports,
exits 2 like bad input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .check_case import ORACLES
from .units import UNSUPPORTED
from .verdict import CaseVerdict, ErrorKind, VerdictState

__all__ = ["EXIT_BAD_INPUT", "EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_PASSED", "SuiteRun"]

EXIT_PASSED, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT), the verdicts so far kept


@dataclass
class SuiteRun:
    verdicts: list[CaseVerdict] = field(default_factory=list)
    started: str = ""
    seconds: float = 0.0
    oracles: tuple[str, ...] = ORACLES
    implementation: str = ""
    # One-line remarks that are not errors (a case found twice with the same content).
    notes: list[str] = field(default_factory=list)
    # What was searched, to say where nothing was found.
    searched: tuple[Any, ...] = ()
    # --strict: an inconclusive case fails the run (exit 1); otherwise it exits 0, never passed.
    strict: bool = False
    # Ctrl-C ended the run (run_suite's keep_interrupted): its verdicts are those of the cases checked so far.
    interrupted: bool = False

    @property
    def bad_input(self) -> list[CaseVerdict]:
        return [v for v in self.verdicts if v.error_kind == ErrorKind.INPUT]

    @property
    def failed(self) -> list[CaseVerdict]:
        return [
            v
            for v in self.verdicts
            if v.state is VerdictState.FAIL and v.error_kind not in (ErrorKind.INPUT, UNSUPPORTED)
        ]

    @property
    def inconclusive(self) -> list[CaseVerdict]:
        """Cases with no failed row but an entry no reference could judge: never passed."""
        return [v for v in self.verdicts if v.state is VerdictState.INCONCLUSIVE]

    @property
    def passed(self) -> list[CaseVerdict]:
        return [v for v in self.verdicts if v.state is VerdictState.PASS]

    @property
    def unsupported(self) -> list[CaseVerdict]:
        """Cases the implementation declined: listed, never passed."""
        return [v for v in self.verdicts if v.error_kind == UNSUPPORTED]

    def nothing_checked(self) -> str:
        """Why the run checked nothing at all ("" when it checked something or reported a problem)."""
        if not self.verdicts and self.interrupted:
            return "nothing checked: interrupted (Ctrl-C) before the first verdict"
        if not self.verdicts:
            return f"nothing to check: no file found in {', '.join(map(str, self.searched)) or 'the given paths'}"
        if len(self.unsupported) == len(self.verdicts):
            return f"nothing to check: {self.implementation or 'the implementation'} supports none of the cases"
        return ""

    def exit_code(self) -> int:
        """2 when any input was bad or nothing was checked (the good cases still ran), else 1
        when any check failed (or, with `strict`, a case was inconclusive), else 0."""
        if self.interrupted:
            return EXIT_INTERRUPTED
        if self.bad_input or self.nothing_checked():
            return EXIT_BAD_INPUT
        return EXIT_FAILED if self.failed or (self.strict and self.inconclusive) else EXIT_PASSED
