"""The rubric of an assignment (`refbp-rubric/1`, docs/grading.md): which cases, how many points
each part is worth, who sees what, and whether feedback may show numbers.

Every field is optional; the defaults grade the installed suite with 1 point for the forward, 2
for the gradients (split evenly over the case's tensors) and 1 for the training, every test
visible, no reference number in any feedback. A rubric that is not of the format is refused
with one line naming the file, the field and the problem.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from ..check.parts import CATEGORIES

RUBRIC_FORMAT = "refbp-rubric/1"
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
DEFAULT_POINTS = {"forward": 1.0, "gradients": 2.0, "training": 1.0}
ORACLES = ("torch", "fd", "expected")
FIELDS = (
    "format",
    "title",
    "cases",
    "points",
    "case_points",
    "visibility",
    "show_values",
    "inconclusive_credit",
    "oracles",
    "timeout",
)


class RubricError(ValueError):
    """A rubric that cannot be used: `file: field: problem`, one line."""


@dataclass(frozen=True)
class Rubric:
    title: str = "refbp"
    cases: tuple[Path, ...] = ()  # empty: the cases given on the command line, or the suite
    points: dict = field(default_factory=lambda: dict(DEFAULT_POINTS))  # per case, per category
    case_points: dict = field(default_factory=dict)  # {case id: {category: points}}
    visibility: dict = field(default_factory=lambda: dict.fromkeys(CATEGORIES, "visible"))
    show_values: bool = False  # feedback may show the worst entry's value and the reference's
    inconclusive_credit: float = 1.0  # the share of a part's points when no reference could judge it fully
    oracles: tuple[str, ...] = ("torch", "fd", "expected")
    timeout: float = 60.0  # seconds per call into the submission
    path: Path | None = None

    def points_for(self, case_id: str, category: str) -> float:
        return float(self.case_points.get(case_id, {}).get(category, self.points.get(category, 0.0)))


def read_rubric(path) -> Rubric:
    """The rubric in `path`; RubricError naming the file, field and problem."""
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RubricError(f"{path}: cannot be read: {exc.strerror or type(exc).__name__}") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise RubricError(f"{path}: not JSON: {str(exc).splitlines()[0][:120]}") from None
    return parse_rubric(document, path)


def parse_rubric(document, path) -> Rubric:
    def fail(where: str, problem: str):
        raise RubricError(f"{path}: {where}: {problem}" if where else f"{path}: {problem}")

    if not isinstance(document, dict):
        fail("", f"a rubric is a JSON object, not {type(document).__name__}")
    if document.get("format") != RUBRIC_FORMAT:
        fail("format", f"must be {RUBRIC_FORMAT!r}")
    for key in document:
        if key not in FIELDS:
            fail(key, f"unknown field (a rubric has: {', '.join(FIELDS)})")
    title = document.get("title", "refbp")
    if not isinstance(title, str):
        fail("title", "must be a string")
    cases = document.get("cases", [])
    if not isinstance(cases, list) or not all(isinstance(c, str) and c for c in cases):
        fail("cases", "must be a list of paths (relative to the rubric's folder)")
    points = dict(DEFAULT_POINTS, **_points(document.get("points", {}), "points", fail))
    case_points = document.get("case_points", {})
    if not isinstance(case_points, dict):
        fail("case_points", "must be an object {case id: {category: points}}")
    case_points = {case: _points(value, f"case_points.{case}", fail) for case, value in case_points.items()}
    visibility = _visibility(document.get("visibility", "visible"), fail)
    show_values = document.get("show_values", False)
    if not isinstance(show_values, bool):
        fail("show_values", "must be true or false")
    credit = document.get("inconclusive_credit", 1.0)
    if isinstance(credit, bool) or not isinstance(credit, (int, float)) or not 0 <= credit <= 1:
        fail("inconclusive_credit", "must be a number in [0, 1]")
    oracles = document.get("oracles", list(ORACLES))
    if not isinstance(oracles, list) or not oracles or any(o not in ORACLES for o in oracles):
        fail("oracles", f"must be a non-empty list of {', '.join(ORACLES)}")
    timeout = document.get("timeout", 60)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= 86400:
        fail("timeout", "must be a number of seconds in (0, 86400]")
    base = Path(path).parent
    return Rubric(
        title=title,
        cases=tuple(base / c for c in cases),
        points=points,
        case_points=case_points,
        visibility=visibility,
        show_values=show_values,
        inconclusive_credit=float(credit),
        oracles=tuple(oracles),
        timeout=float(timeout),
        path=Path(path),
    )


def _points(value, where: str, fail) -> dict:
    if not isinstance(value, dict):
        fail(where, f"must be an object {{{', '.join(CATEGORIES)}: points}}")
    for key, number in value.items():
        if key not in CATEGORIES:
            fail(f"{where}.{key}", f"unknown part (the parts: {', '.join(CATEGORIES)})")
        if isinstance(number, bool) or not isinstance(number, (int, float)) or not math.isfinite(number) or number < 0:
            fail(f"{where}.{key}", "must be a number of points, 0 or more")
    return {key: float(number) for key, number in value.items()}


def _visibility(value, fail) -> dict:
    if isinstance(value, str):
        value = dict.fromkeys(CATEGORIES, value)
    if not isinstance(value, dict):
        fail("visibility", f"must be one of {', '.join(VISIBILITIES)}, or an object by part")
    for key, setting in value.items():
        if key not in CATEGORIES:
            fail(f"visibility.{key}", f"unknown part (the parts: {', '.join(CATEGORIES)})")
        if setting not in VISIBILITIES:
            fail(f"visibility.{key}", f"{str(setting)[:40]!r} is not one of {', '.join(VISIBILITIES)}")
    return {category: value.get(category, "visible") for category in CATEGORIES}
