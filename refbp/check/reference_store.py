"""The references that depend on the case alone, kept between checks and between runs: on
disk, beside the verdict store, the finite differences of the case's definition (refbp's
forms of it, refbp.perturbed) and the torch reference's traces; in memory, everything
ReferenceCache keeps.

`refbp check --impl` judges a user's answers against them; they are the same for every
implementation, so each is computed once per case and refbp version. The folder is
`reference-cache/` beside the SQLite verdict store (`$XDG_DATA_HOME/refbp/reference-cache/`
when the store is PostgreSQL or off), or `$REFBP_REFERENCE_CACHE` (`none`: no disk cache).
One file per reference (refbp.check.reference_files), named by the SHA-256 of its key: the
format, refbp's version (its number and a digest of the sources that compute references,
`code_digest`), the case's fingerprint (refbp.cases.fingerprint.case_hash, which covers its every
number and its dtype) and dtype; for finite differences the method, the dtype they are
computed in (float64) and whose forms; for a trace torch's version and the convention. A
changed case, another version or another method never finds another's file; a file whose
recorded key differs, or that cannot be read, is a miss, computed again and replaced.

Concurrent runs are safe: a file is written whole under a temporary name in the same folder
and renamed over the final name (atomic on POSIX), so a reader sees the old file, the new
one, or none; two writers of one key both write a complete file and the last rename wins.
Past MAX_BYTES the least recently used files are removed. Reading and writing are best
effort: a folder that cannot be written costs the cache, never the check.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from refbp.cases import Case
from refbp.oracle.fd import FiniteDifference

from ..loss_forms import LossForms
from ..trace import Trace
from . import reference_files
from .reference_files import Arrays, Meta
from .references import CACHE_BYTES, CACHE_ENTRIES, ReferenceCache, References

if TYPE_CHECKING:  # it loads torch, which only the references themselves need
    from refbp.oracle.conventions import Convention

T = TypeVar("T")

FORMAT = 2  # the layout of the files (refbp.check.reference_files): a new one never reads an old file
FOLDER_VARIABLE = "REFBP_REFERENCE_CACHE"
FOLDER_NAME = "reference-cache"
DATABASE_URL_VARIABLE = "REFBP_DATABASE_URL"  # refbp.store.database's
FORMS = "refbp.perturbed"  # whose forward the differences are of
FD_DTYPE = "float64"
MAX_BYTES = 1 << 30


def cache_folder() -> Path | None:
    """Where the files go (None: no disk cache): $REFBP_REFERENCE_CACHE, or beside the verdict store."""
    chosen = os.environ.get(FOLDER_VARIABLE, "").strip()
    if chosen:
        return None if chosen.lower() == "none" else Path(chosen).expanduser()
    return store_file().parent / FOLDER_NAME


def store_file() -> Path:
    """The verdict store's SQLite file as refbp.store.database.store_url finds it, or the default
    one where the store is PostgreSQL or off; read here without importing SQLAlchemy and Alembic
    (a second or more, in every worker process)."""
    default = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "refbp" / "verdicts.sqlite"
    url = os.environ.get(DATABASE_URL_VARIABLE) or ""
    if url.startswith("sqlite:///"):
        return Path(url[len("sqlite:///") :]).expanduser()
    return default


def fd_key(fingerprint: str, method: str, case_dtype: str) -> Meta:
    from refbp import __version__

    return {
        "format": FORMAT,
        "refbp": __version__,
        "code": code_digest(),
        "case": fingerprint,
        "case_dtype": case_dtype,
        "method": method,
        "fd_dtype": FD_DTYPE,
        "forms": FORMS,
    }


# The code whose every change may change a reference: its sources' digest is part of refbp's
# version in a key (a checkout edited without a new version number never reads older files).
REFERENCE_CODE = ("refbp.oracle", "refbp.nn", "refbp.perturbed", "refbp.loss_forms", "refbp.names", "refbp.cases")


@functools.cache
def code_digest() -> str:
    """SHA-256 (16 hex digits) of the Python sources of REFERENCE_CODE, their module paths included
    (found where Python finds them: refbp.cases and refbp.oracle live in top-level folders of a
    checkout and inside refbp/ when installed)."""
    digest = hashlib.sha256()
    for module in REFERENCE_CODE:
        spec = importlib.util.find_spec(module)
        if spec is None or spec.origin is None:
            continue
        origin = Path(spec.origin)
        root = origin.parent if spec.submodule_search_locations else origin
        for file in sorted(root.rglob("*.py")) if root.is_dir() else [root]:
            relative = file.relative_to(root).as_posix() if root.is_dir() else ""
            digest.update(f"{module}/{relative}".encode() + b"\0")
            try:
                digest.update(file.read_bytes())
            except OSError:
                pass
    return digest.hexdigest()[:16]


def trace_key(fingerprint: str, convention: Convention | None) -> Meta:
    """The torch reference's trace of a case, under `convention` (None: the primary one)."""
    import torch

    from refbp import __version__

    return {
        "format": FORMAT,
        "refbp": __version__,
        "code": code_digest(),
        "case": fingerprint,
        "torch": torch.__version__,
        "convention": "primary" if convention is None else repr(convention),
    }


def key_name(kind: str, key: Meta) -> str:
    return f"{kind}-" + hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest() + ".npz"


class ReferenceStore(ReferenceCache):
    """ReferenceCache in memory, and on disk in `folder` (None: where `cache_folder()` says at
    each use) the definition's finite differences and the torch reference's traces."""

    def __init__(self, folder: Path | None = None, entries: int = CACHE_ENTRIES, max_bytes: int = CACHE_BYTES) -> None:
        super().__init__(entries=entries, max_bytes=max_bytes)
        self.folder = folder
        self.disk_hits = self.disk_misses = self.disk_writes = 0

    # In memory, each key is kept per folder: a process whose cache moves (a test per folder)
    # never gets in memory what another folder's references were.
    def finite_difference(self, case: Case, fingerprint: str, method: str, forms: LossForms) -> FiniteDifference:
        folder = self._folder()
        return self._kept_or_computed(
            ("fd", fingerprint, method, folder),
            lambda: self._on_disk(
                folder,
                "fd",
                fd_key(fingerprint, method, case.dtype) if fingerprint else None,
                lambda: References.finite_difference(self, case, fingerprint, method, forms),
                reference_files.fd_files,
                reference_files.fd_of,
            ),
        )

    def torch_trace(self, case: Case, fingerprint: str) -> Trace:
        folder = self._folder()
        return self._kept_or_computed(
            ("torch", fingerprint, folder),
            lambda: self._on_disk(
                folder,
                "trace",
                trace_key(fingerprint, None) if fingerprint else None,
                lambda: References.torch_trace(self, case, fingerprint),
                reference_files.trace_files,
                reference_files.trace_of,
            ),
        )

    def variant_trace(self, case: Case, fingerprint: str, convention: Convention) -> Trace:
        folder = self._folder()
        return self._kept_or_computed(
            ("torch", fingerprint, convention, folder),
            lambda: self._on_disk(
                folder,
                "trace",
                trace_key(fingerprint, convention) if fingerprint else None,
                lambda: References.variant_trace(self, case, fingerprint, convention),
                reference_files.trace_files,
                reference_files.trace_of,
            ),
        )

    def _folder(self) -> Path | None:
        return self.folder if self.folder is not None else cache_folder()

    def _on_disk(
        self,
        folder: Path | None,
        kind: str,
        key: Meta | None,
        compute: Callable[[], T],
        files: Callable[[T], tuple[Arrays, Meta]],
        restored: Callable[[Arrays, Meta], T],
    ) -> T:
        """The reference kept on disk in `folder` for `key`, or `compute()`d and written (None: no disk)."""
        if folder is None or key is None:
            return compute()
        path = Path(folder) / key_name(kind, key)
        found = reference_files.read(path, key)
        if found is not None:
            kept: T | None
            try:
                kept = restored(*found)
            except (KeyError, TypeError, ValueError):  # a file of another layout under this key: a miss
                kept = None
            if kept is not None:
                self.disk_hits += 1
                return kept
        self.disk_misses += 1
        result = compute()
        if reference_files.write(path, key, *files(result)):
            self.disk_writes += 1
            reference_files.prune(Path(folder), MAX_BYTES)
        return result


_shared: ReferenceStore | None = None


def shared() -> ReferenceStore:
    """This process's store (a guarded worker keeps it from case to case)."""
    global _shared
    if _shared is None:
        _shared = ReferenceStore()
    return _shared
