"""Run many cases: load each, check it, collect the verdicts. One bad file never stops the rest."""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from cases import SUITE_DIR, CaseError, discover, load_case

from .adapter import Declined
from .check_case import ORACLES, Implementation, check_case
from .verdict import CaseVerdict

EXIT_PASSED, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
UNSUPPORTED = "unsupported"


@dataclass
class SuiteRun:
    verdicts: list[CaseVerdict] = field(default_factory=list)
    started: str = ""
    seconds: float = 0.0
    oracles: tuple = ORACLES
    implementation: str = ""

    @property
    def bad_input(self) -> list[CaseVerdict]:
        return [v for v in self.verdicts if v.error_kind == "input"]

    @property
    def failed(self) -> list[CaseVerdict]:
        return [v for v in self.verdicts if not v.passed and v.error_kind not in ("input", UNSUPPORTED)]

    @property
    def unsupported(self) -> list[CaseVerdict]:
        """Cases the implementation declined (an adapter's factory returned None): listed, never passed."""
        return [v for v in self.verdicts if v.error_kind == UNSUPPORTED]

    def exit_code(self) -> int:
        """2 when any input was bad (the good cases still ran) or nothing at all was checked,
        else 1 when any check failed, else 0."""
        if self.bad_input or len(self.unsupported) == len(self.verdicts):
            return EXIT_BAD_INPUT
        return EXIT_FAILED if self.failed else EXIT_PASSED


def case_files(paths=None) -> list[Path]:
    """The files named (folders searched recursively); the installed suite when none is named."""
    return discover(paths or [SUITE_DIR])


def run_suite(paths=None, oracles=ORACLES, implementation: Implementation | None = None,
              progress: bool | None = None, fd_method: str | None = None, on_verdict=None,
              checker=None) -> SuiteRun:
    """Check every case of `paths`: with refbp (or `implementation`), or with `checker(case)
    -> CaseVerdict` (an adapter implementation; it raises Declined for a case it does not support)."""
    from tqdm import tqdm

    files = case_files(paths)
    run = SuiteRun(started=datetime.now(timezone.utc).isoformat(timespec="seconds"), oracles=tuple(oracles))
    start = time.perf_counter()
    seen: dict[str, Path] = {}
    bar = tqdm(files, desc="refbp run", unit="case", disable=True if progress is False else None,
               leave=False, dynamic_ncols=True)
    for path in bar:
        verdict = _run_one(path, seen, oracles, implementation, fd_method, checker)
        run.implementation = run.implementation or verdict.implementation
        run.verdicts.append(verdict)
        if on_verdict is not None:
            on_verdict(verdict)
    run.seconds = time.perf_counter() - start
    return run


def _run_one(path: Path, seen: dict, oracles, implementation, fd_method, checker=None) -> CaseVerdict:
    try:
        case = load_case(path)
        if case.id in seen:
            raise CaseError(path, "id", f"{case.id!r} is already used by {seen[case.id]}")
        seen[case.id] = path
    except CaseError as exc:
        return CaseVerdict(case=path.stem, implementation=implementation.name if implementation else "refbp",
                           passed=False, errors=[str(exc)], path=str(path), error_kind="input")
    try:
        if checker is not None:
            return checker(case)
        return check_case(case, implementation, oracles, fd_method=fd_method)
    except Declined:
        return CaseVerdict(case=case.id, implementation=implementation.name if implementation else "", passed=False,
                           path=str(path), title=case.title, network=case.network.describe(), dtype=case.dtype,
                           error_kind=UNSUPPORTED, errors=[f"{case.id}: not supported by the implementation"])
    except Exception as exc:  # a crash in one case is that case's failure, not the run's
        last = traceback.extract_tb(exc.__traceback__)[-1]
        message = f"{path}: could not be checked: {type(exc).__name__}: {exc} (at {Path(last.filename).name}:{last.lineno})"
        return CaseVerdict(case=case.id, implementation=implementation.name if implementation else "refbp",
                           passed=False, errors=[message], path=str(path), title=case.title,
                           network=case.network.describe(), dtype=case.dtype, error_kind="crash")
