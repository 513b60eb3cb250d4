"""Where an implementation crashed: its own file and line and its last frames, from the exception's
traceback, in one line (a verdict's error is one line: docs/formats.md section 4).

Its frames are those outside refbp, the standard library and the installed packages (numpy's own
frames say little to the student): the last of them is where it went wrong in the user's code, and
the exception's own frame is named too where it lies elsewhere (inside numpy)."""

from __future__ import annotations

import sysconfig
import traceback
from pathlib import Path

FRAMES = 3  # the implementation's last frames shown
_REFBP = Path(__file__).resolve().parents[1]
_ELSEWHERE = tuple(
    {
        Path(p).resolve()
        for key in ("stdlib", "platstdlib", "purelib", "platlib")
        if (p := sysconfig.get_paths().get(key))
    }
)


def own_frames(exc: BaseException) -> list[traceback.FrameSummary]:
    """The traceback's frames that belong to the implementation (outermost first)."""
    return [frame for frame in traceback.extract_tb(exc.__traceback__) if _theirs(frame.filename)]


def where(exc: BaseException) -> str:
    """`at mynet.py:42 in gradients (grads["w"] = x.T @ d); before it: mynet.py:30 in _backward`, or ""
    when no frame of the implementation is known (an exception raised from a worker's pickled error)."""
    mine = own_frames(exc)
    if not mine:
        return ""
    last = mine[-1]
    text = f"at {_short(last.filename)}:{last.lineno} in {last.name}"
    if last.line:
        text += f" ({_clip(last.line)})"
    every = traceback.extract_tb(exc.__traceback__)
    if every and every[-1] is not last and not _theirs(every[-1].filename):
        text += f", raised inside {_short(every[-1].filename)}:{every[-1].lineno}"
    earlier = mine[-FRAMES:-1]
    if earlier:
        text += "; before it: " + " <- ".join(f"{_short(f.filename)}:{f.lineno} in {f.name}" for f in reversed(earlier))
    return text


def crash_line(exc: BaseException) -> str:
    """`ZeroDivisionError: division by zero, at mynet.py:42 in gradients (...)`: the one line of a crash."""
    summary = (str(exc).strip().splitlines() or [""])[0]
    found = where(exc)
    return f"{type(exc).__name__}: {_clip(summary, 200)}" + (f", {found}" if found else "")


def _theirs(filename: str) -> bool:
    if filename.startswith("<"):
        return False
    path = Path(filename).resolve()
    if path.is_relative_to(_REFBP):
        return False
    return not any(path.is_relative_to(root) for root in _ELSEWHERE)


def _short(filename: str) -> str:
    """The path relative to the current folder where it lies inside it, else as it is."""
    path = Path(filename)
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _clip(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
