"""Loading the cases of a run: every case file found, each case once; a file that cannot be
loaded becomes its input-error verdict (bad input for that case), never stopping the rest.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from refbp.cases import SUITE_DIR, Case, CaseError, discover, load_case
from refbp.cases.export import explicit_document

from .verdict import CaseVerdict, ErrorKind

__all__ = ["LoadedCases", "case_files", "input_error", "load_cases"]


@dataclass
class LoadedCases:
    # In the order found: a Case, or the input-error verdict of a file that could not be loaded.
    items: list[Case | CaseVerdict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def cases(self) -> list[Case]:
        return [item for item in self.items if isinstance(item, Case)]

    @property
    def bad(self) -> list[CaseVerdict]:
        return [item for item in self.items if isinstance(item, CaseVerdict)]


def case_files(paths: Sequence[Any] | None = None) -> list[Path]:
    """The files named (folders searched recursively); the installed suite when none is named."""
    return discover(paths or [SUITE_DIR])


def input_error(
    path: str | os.PathLike[str], message: str, case: str | None = None, implementation: str = ""
) -> CaseVerdict:
    return CaseVerdict(
        case=case or Path(path).stem,
        implementation=implementation,
        passed=False,
        errors=[message],
        path=str(path),
        error_kind=ErrorKind.INPUT,
    )


def load_cases(paths: Sequence[Any] | None = None, implementation: str = "") -> LoadedCases:
    """Every case under `paths`, once. A case found again with the same content (an exported
    copy beside its source) is noted and checked once; the same id with other content is bad
    input naming both files."""
    loaded = LoadedCases()
    unreadable: list[CaseError] = []
    files = discover(paths or [SUITE_DIR], unreadable)
    loaded.items += [input_error(e.path, str(e), implementation=implementation) for e in unreadable]
    seen: dict[str, Case] = {}
    for path in files:
        try:
            case = load_case(path)
            first = seen.get(case.id)
            if first is not None and explicit_document(first) != explicit_document(case):
                raise CaseError(path, "id", f"{case.id!r} is already used by {first.path} with other content")
        except CaseError as exc:
            loaded.items.append(input_error(path, str(exc), implementation=implementation))
            continue
        if first is not None:
            loaded.notes.append(f"{path}: the same case as {first.path}, checked once")
            continue
        seen[case.id] = case
        loaded.items.append(case)
    return loaded
