"""Reading a JSON file of the formats (case, result, bundle) strictly, and `CaseError`.

Every problem is a `CaseError` naming the file, the field and the problem, in one line.
The nesting depth is measured before the text is parsed: Python's JSON parser recurses
once per level, so a document of a thousand nested lists would end in a RecursionError.
"""

from __future__ import annotations

import errno
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np

# The largest file read (a case, a result, a bundle), checked before a byte is parsed: a
# 200 MB document would otherwise take most of a minute and gigabytes to parse, only to be
# refused by a size limit after. The largest shipped case is a few kB; an explicit case at the
# limits of docs/formats.md section 2 would be larger, and is written with generators instead.
MAX_FILE_BYTES = 64 * 1024 * 1024
# No document of the formats nests deeper than 8 (a bundle's result's grads' 3-D tensor);
# 32 leaves room for any future field and stays far below Python's recursion limit.
MAX_NESTING = 32

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_OPEN, _CLOSE = np.frombuffer(b"[{", np.uint8), np.frombuffer(b"]}", np.uint8)


class CaseError(ValueError):
    """A bad input file: `file: field: problem`, one line."""

    def __init__(self, path: str | Path | None, field: str, problem: str) -> None:
        self.path = str(path) if path is not None else "<case>"
        self.field = field
        self.problem = problem
        where = f"{self.path}: {field}" if field else self.path
        super().__init__(f"{where}: {problem}")


def read_json(path: str | Path, allow_non_finite: bool = False) -> Any:
    """Parse a JSON file strictly: at most MAX_FILE_BYTES (asked before reading), no duplicate
    keys, nesting at most MAX_NESTING deep.

    NaN and Infinity literals are refused unless `allow_non_finite` (a result may hold them:
    they are wrong answers, judged as failed checks, not unreadable files).
    """
    path = Path(path)
    if path.is_dir():
        raise CaseError(path, "", "is a folder, not a file")
    if path.exists() and not path.is_file():
        raise CaseError(path, "", "is not a regular file")
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise CaseError(
                path,
                "",
                f"{size / 2**20:.0f} MiB: more than the limit of {MAX_FILE_BYTES // 2**20} MiB "
                f"for one file (refused before it is parsed)",
            )
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CaseError(path, "", "no such file") from None
    except OSError as exc:
        loop = " (a loop of symbolic links)" if exc.errno == errno.ELOOP else ""
        raise CaseError(path, "", f"cannot read: {exc.strerror or exc}{loop}") from None
    except UnicodeDecodeError as exc:
        raise CaseError(path, "", f"cannot read: {exc}") from None
    return parse_json(text, path, allow_non_finite)


def parse_json(text: str, path: str | Path | None = None, allow_non_finite: bool = False) -> Any:
    check_nesting(text, path)

    def constant(name: str) -> float:
        if allow_non_finite:
            return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[name]
        # The field is not known while parsing: NaN stands in, and the validation of the
        # document names the field that holds it.
        return _LITERAL[name]

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj: dict[str, Any] = {}
        for key, value in pairs:
            if key in obj:
                raise CaseError(path, key, "appears twice in one object")
            obj[key] = value
        return obj

    try:
        return json.loads(text, parse_constant=constant, object_pairs_hook=no_duplicates, parse_int=_integer)
    except json.JSONDecodeError as exc:
        raise CaseError(path, "", f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None


class NonFiniteLiteral(float):
    """A NaN or Infinity literal in a document that may not hold one; `name` is its spelling."""

    name = ""


def _literal(name: str, value: float) -> NonFiniteLiteral:
    literal = NonFiniteLiteral(value)
    literal.name = name
    return literal


_LITERAL = {
    name: _literal(name, value) for name, value in (("NaN", math.nan), ("Infinity", math.inf), ("-Infinity", -math.inf))
}


def _integer(text: str) -> int | float:
    # Python refuses to convert more than 4300 digits (a ValueError deep in the parser);
    # such a number does not fit a float64 anyway, so it is read as the infinity it overflows to.
    if len(text) > 4000:
        return -math.inf if text.startswith("-") else math.inf
    return int(text)


def check_nesting(text: str, path: str | Path | None = None) -> None:
    """Refuse a document nested deeper than MAX_NESTING, before any parser recurses into it."""
    if text.count("[") + text.count("{") <= MAX_NESTING:
        return
    outside_strings = _STRING.sub('""', text).encode("utf-8", "surrogatepass")
    codes = np.frombuffer(outside_strings, np.uint8)
    steps = np.isin(codes, _OPEN).astype(np.int32) - np.isin(codes, _CLOSE).astype(np.int32)
    depth = np.cumsum(steps)
    deepest = int(depth.max(initial=0))
    if deepest > MAX_NESTING:
        at = int(np.argmax(depth > MAX_NESTING))
        line = outside_strings[:at].count(b"\n") + 1
        raise CaseError(
            path,
            "",
            f"nested {deepest} levels deep at line {line}: more than the limit of "
            f"{MAX_NESTING} (no document of the formats nests so deep)",
        )


def kind_of(value: Any) -> str:
    """How a JSON value is named in messages."""
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    names: dict[type, str] = {dict: "an object", list: "a list", str: "a string", int: "a number", float: "a number"}
    return names.get(type(value), "a number" if isinstance(value, float) else type(value).__name__)


def show(value: Any) -> str:
    """A value as a message shows it: never a 400-digit number or a page of text in full."""
    if isinstance(value, NonFiniteLiteral):
        return value.name
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int):
        digits = len(str(abs(value))) if value.bit_length() < 14000 else None
        if digits is None or digits > 15:
            return f"a {digits or 'many'}-digit number"
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else "a number too large for float64"
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:37] + "...")
    if isinstance(value, (list, dict)):
        return kind_of(value)
    return repr(value)
