"""The layer rules of DESIGN.md, checked on the source: the implementation under test never
touches torch, and a reference never reuses the code it checks."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(folder: str) -> dict[str, set[str]]:
    found = {}
    for path in sorted((ROOT / folder).rglob("*.py")):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                prefix = "." * node.level
                names.add(prefix + node.module)
                names.update(f"{prefix}{node.module}.{alias.name}" for alias in node.names)
        found[str(path.relative_to(ROOT))] = names
    return found


def test_refbp_nn_never_imports_torch_anywhere():
    for path, names in imported_modules("refbp/nn").items():
        assert not any(n == "torch" or n.startswith("torch.") for n in names), path


@pytest.mark.parametrize("folder", ["oracle", "cases"])
def test_references_and_cases_never_import_refbp_nn(folder):
    for path, names in imported_modules(folder).items():
        bad = [n for n in names if n.startswith("refbp.nn") or n == "refbp.nn"]
        assert not bad, (path, bad)


def test_cases_import_neither_torch_nor_refbp():
    """refbp.names, the one table of names, imports nothing: every layer may read it."""
    for path, names in imported_modules("cases").items():
        names = {n for n in names if not (n == "refbp.names" or n.startswith("refbp.names."))}
        assert not any(n.split(".")[0] in ("torch", "refbp", "oracle") for n in names), path


def test_the_table_of_names_imports_nothing():
    assert imported_modules("refbp")["refbp/names.py"] <= {"__future__", "__future__.annotations", "dataclasses",
                                                           "dataclasses.dataclass"}


def test_importing_refbp_nn_and_the_cli_loads_no_torch():
    code = "import sys, refbp.nn, refbp.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
