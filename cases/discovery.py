"""Finding case files: the `*.json` files under the given files and folders, layer cases set apart.

A folder that cannot be read, or that holds no case file, is reported as a `CaseError`, never
skipped silently; a file whose `format` is a layer format goes to the layer checks
(refbp.layer.cases), not among the whole-network cases.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from .jsonio import CaseError
from .layer_case import layer_format

SCHEMA_SUFFIX = ".schema.json"  # schema files beside exported cases are not cases


def discover(
    paths: Iterable[str | Path],
    unreadable: list[CaseError] | None = None,
    layer_files: list[Path] | None = None,
) -> list[Path]:
    """Case files under the given files and folders (folders recursively: `*.json` except
    `*.schema.json`, sorted). A folder that cannot be read is appended to `unreadable` as a
    CaseError (or raised when no list is given). With a list, a folder given in which no file
    is found (empty, a folder named like a file `x.json`, only symbolic links to folders, which
    are not followed) is appended too, when another path gave files: it is never ignored
    silently (when nothing at all is found, the caller says so in one line).

    A file whose `format` is a layer format (`refbp-layer-case/...`, `refbp-layer-result/...`,
    `layer_format`) is not among the files returned: it goes into `layer_files` when a list is
    given, for the layer checks (refbp.layer.cases) to read, and is left to them otherwise."""
    found: list[Path] = []
    empty: list[CaseError] = []
    layered = layer_files if layer_files is not None else []
    for raw in paths:
        path = Path(raw)
        if not path.is_dir():
            (layered if layer_format(path) else found).append(path)
            continue
        refusals: list[CaseError] = []

        def refused(error: OSError, top: Path = path, refusals: list[CaseError] = refusals) -> None:
            problem = CaseError(error.filename or top, "", f"cannot read this folder: {error.strerror or error}")
            if unreadable is None:
                raise problem
            unreadable.append(problem)
            refusals.append(problem)

        inside: list[Path] = []
        links = 0
        for folder, folders, files in os.walk(path, onerror=refused):
            inside += [Path(folder) / f for f in files if f.endswith(".json") and not f.endswith(SCHEMA_SUFFIX)]
            links += sum((Path(folder) / f).is_symlink() for f in folders)
        if not inside and not refusals:
            empty.append(CaseError(path, "", _empty_folder(path, links)))
        for file in sorted(inside):
            (layered if layer_format(file) else found).append(file)
    if (found or layered) and unreadable is not None:
        unreadable += empty
    return found


def _empty_folder(path: Path, links: int) -> str:
    what = "is a folder, not a file, and holds" if path.name.endswith(".json") else "is a folder that holds"
    skipped = f" ({links} symbolic link(s) to folders in it, not followed)" if links else ""
    return f"{what} no *.json file{skipped}"
