"""Writing the variants of a set of cases (refbp.cases.variant) into a folder: for `refbp cases
variant`, and for `refbp grade --seed`, which regenerates a student's variant to grade it."""

from __future__ import annotations

import json
from pathlib import Path

from refbp.cases import CaseError
from refbp.cases.export import explicit_document, export_directory
from refbp.cases.variant import MAX_SEED, variant_case

from ..check.suite import load_cases


class VariantError(ValueError):
    """The variants cannot be written: one line naming the option or file and the problem."""


def write_variants(paths, seed: int, directory, force: bool = False) -> tuple[list[Path], list[str]]:
    """The variant of every case under `paths` (the installed suite when None) written into
    `directory` as `<id>.json`, with the case schema: (files written, one line per case file that
    could not be read). VariantError before anything is written: a bad seed, a folder that
    cannot take the files, a file already there (unless `force`)."""
    if not 0 <= seed <= MAX_SEED:
        raise VariantError(f"--seed {seed}: must be in [0, 2^63 - 1]")
    loaded = load_cases(paths)
    problems = [error for item in loaded.bad for error in item.errors]
    if not loaded.items:
        raise VariantError(f"nothing found: no case file in {', '.join(map(str, paths or ['the installed suite']))}")
    target = Path(directory)
    clashes = [target / f"{case.id}.json" for case in loaded.cases if (target / f"{case.id}.json").exists()]
    if clashes and not force:
        more = f" (and {len(clashes) - 1} more)" if len(clashes) > 1 else ""
        raise VariantError(f"{clashes[0]}: already exists{more}: not overwritten, nothing written (--force overwrites)")
    try:
        variants = [variant_case(case, seed) for case in loaded.cases]
        export_directory(target)
    except CaseError as exc:
        raise VariantError(str(exc)) from None
    written = []
    for variant in variants:
        path = target / f"{variant.id}.json"
        try:
            path.write_text(json.dumps(explicit_document(variant), indent=1) + "\n")
        except OSError as exc:
            raise VariantError(f"{path}: cannot write: {exc.strerror or exc}") from None
        written.append(path)
    return written, problems
