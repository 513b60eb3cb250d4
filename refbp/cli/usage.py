"""What every `refbp` command shares: the one-line usage error (exit 2), and the check of a
folder an option names for writing, asked before any work."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def fail_usage(message: str, prog: str = "refbp") -> int:
    """A one-line usage error on stderr, exit code 2."""
    print(f"{prog}: error: {message}", file=sys.stderr)
    return 2


def folder_problem(option: str, folder) -> str:
    """Why nothing can be written into `folder` (made when missing), named by `option` ("" when it
    can): a file, under a file, or a folder this process cannot write into. Asked before any work,
    so that a command never ends in a traceback after its checks, with nothing written."""
    root = Path(folder).absolute()
    if root.exists() and not root.is_dir():
        return f"{option} {folder}: is a file, not a folder"
    existing = next(f for f in (root, *root.parents) if f.exists())
    if not existing.is_dir():
        return f"{option} {folder}: {existing} is a file, not a folder"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{option} {folder}: cannot write into {existing}"
    return ""


def os_problem(exc: OSError) -> str:
    """An OSError in a few words: its strerror and the file it names."""
    where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
    return f"{exc.strerror or type(exc).__name__}{where}"
