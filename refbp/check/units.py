"""One case checked, as a unit of work that can run in another process or on another machine.

A unit is plain data: the case's document as written and the path it was read from, the
references, the FD method, and what checks it (`CheckWith`: refbp on a backend and device,
or an adapter's `MODULE:FACTORY` text, imported again by the worker). No object made from
user input crosses a process boundary but these documents and strings; the verdict comes back.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from refbp.cases import Case, parse_case
from refbp.cases.dtypes import at_dtype

from .adapter import Declined, load_factory
from .check_case import ORACLES, Implementation, check_case, refbp_implementation
from .references import References
from .verdict import CaseVerdict, ErrorKind

# The error_kind of a case the implementation declined (an adapter's factory returned None).
UNSUPPORTED = ErrorKind.UNSUPPORTED


@dataclass(frozen=True)
class CheckWith:
    """What checks the cases: refbp (on `backend`, `device`), or with `impl` set the adapter
    `MODULE:FACTORY` (a file path made absolute), named `name` in the reports."""

    backend: str = "numpy"
    device: str | None = None
    impl: str = ""
    name: str = ""
    # Which values pass where correct implementations may differ (docs/formats.md, "Conventions"):
    # "any" (every admissible convention) or "torch" (torch's own choices only).
    conventions: str = "any"
    # `check --dtype`: every case computed and judged at this dtype, its numbers rounded to it
    # (refbp.cases.dtypes.at_dtype); "": each case's own.
    dtype: str = ""

    def display_name(self) -> str:
        return self.name or self.impl if self.impl else _refbp(self.backend, self.device).name

    def factory(self) -> Callable[..., Any]:
        """The adapter's factory, imported once per process (AdapterError when it cannot be)."""
        return _factory(self.impl)

    def checker(
        self, oracles: Sequence[str], fd_method: str | None, references: References | None = None
    ) -> Callable[[Case], CaseVerdict]:
        """case -> CaseVerdict, in this process (Declined for a case an adapter does not support);
        `references`: where refbp's finite differences come from (check_case's argument)."""
        if self.impl:
            # Imported here: it loads torch (the reference's loss), which `refbp` and its CLI do not load.
            from .check_adapter import check_adapter_case

            factory = self.factory()
            return lambda case: check_adapter_case(
                self.at_dtype(case), factory, self.display_name(), oracles, fd_method, conventions=self.conventions
            )
        implementation = _refbp(self.backend, self.device)
        return lambda case: check_case(
            self.at_dtype(case),
            implementation,
            oracles,
            fd_method=fd_method,
            references=references,
            conventions=self.conventions,
        )

    def at_dtype(self, case: Case) -> Case:
        return at_dtype(case, self.dtype) if self.dtype else case


def shippable_spec(spec: str) -> str:
    """`--impl` as a worker in another folder can import it: a FILE.py:FACTORY made absolute."""
    module, sep, attribute = spec.rpartition(":")
    if sep and (module.endswith(".py") or "/" in module):
        return f"{Path(module).resolve()}:{attribute}"
    return spec


@dataclass(frozen=True)
class CaseUnit:
    document: dict[str, Any]
    path: str
    oracles: tuple[str, ...] = ORACLES
    fd_method: str | None = None
    check_with: CheckWith = CheckWith()


def case_unit(case: Case, oracles: Sequence[str], fd_method: str | None, check_with: CheckWith) -> CaseUnit:
    return CaseUnit(
        case.document, str(case.path) if case.path is not None else "", tuple(oracles), fd_method, check_with
    )


def case_cost(case: Case) -> float:
    """A case's work, roughly, to start the dearest first: finite differences evaluate the
    forward (parameters x batch x steps) once or more per parameter entry."""
    parameters = sum(int(np.size(tensor)) for tensor in case.params.values())
    return float(parameters) * parameters * case.batch * case.steps


def check_unit(unit: CaseUnit) -> CaseVerdict:
    """The verdict of one unit; runs in a worker (module-level, so it is pickled by name)."""
    case = parse_case(unit.document, unit.path or None)
    return run_one(
        case, unit.oracles, unit.check_with.checker(unit.oracles, unit.fd_method), unit.check_with.display_name()
    )


def run_one(case: Case, oracles: Sequence[str], checker: Callable[[Case], CaseVerdict], name: str) -> CaseVerdict:
    """`checker(case)`, with a crash or a decline made that case's verdict (the others go on)."""
    try:
        verdict = checker(case)
    except Declined:
        return CaseVerdict(
            case=case.id,
            implementation=name,
            passed=False,
            path=str(case.path),
            title=case.title,
            network=case.network.describe(),
            dtype=case.dtype,
            error_kind=UNSUPPORTED,
            errors=[f"{case.id}: not supported by the implementation"],
        )
    except Exception as exc:  # a crash in one case is that case's failure, not the run's
        last = traceback.extract_tb(exc.__traceback__)[-1]
        return crash_verdict(case, name, f"{type(exc).__name__}: {exc} (at {Path(last.filename).name}:{last.lineno})")
    if not verdict.checks and not verdict.errors:
        verdict = replace(
            verdict,
            passed=False,
            error_kind=ErrorKind.INPUT,
            errors=(
                f"{case.label()}: --oracle {','.join(oracles)}: nothing to check (no chosen reference applies: "
                f"{_why_unchecked(case, oracles)})",
            ),
        )
    return verdict


def crash_verdict(case: Case, name: str, reason: str) -> CaseVerdict:
    """The verdict of a case that could not be checked (it raised, or its worker died)."""
    return CaseVerdict(
        case=case.id,
        implementation=name,
        passed=False,
        errors=[f"{case.path}: could not be checked: {reason}"],
        path=str(case.path),
        title=case.title,
        network=case.network.describe(),
        dtype=case.dtype,
        error_kind=ErrorKind.CRASH,
    )


def _why_unchecked(case: Case, oracles: Sequence[str]) -> str:
    if "expected" in oracles and case.expected is None:
        return "the case publishes no expected values"
    return "no rows"


@cache
def _refbp(backend: str, device: str | None) -> Implementation:
    return refbp_implementation(backend, device)


@cache
def _factory(spec: str) -> Callable[..., Any]:
    """Imported once per process: a worker checks many cases with one implementation."""
    return load_factory(spec)
