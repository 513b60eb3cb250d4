"""The layer rules around refbp.perturbed (the fast finite-difference forms), checked on the
source: refbp.nn never imports it; it reads refbp.nn only through its public interface and
never imports torch or oracle; oracle never imports it; the contract between them
(refbp.loss_forms) imports none of them; and no module of these packages imports another
inside a function or in a cycle."""

from __future__ import annotations

import ast

import pytest

import refbp.nn
from test_layers import ROOT, imported_modules

FOLDERS = ("refbp/nn", "refbp/perturbed", "oracle/fd")
# What refbp.perturbed may import of refbp: refbp.nn's public names and its activations and
# losses by name, the neutral tables and contracts, and itself.
ALLOWED_REFBP = {"refbp.nn", "refbp.nn.activations", "refbp.nn.losses", "refbp.names", "refbp.loss_forms"}
PUBLIC_NN = set(refbp.nn.__all__) | {"activations", "losses"}


def top_level(name: str) -> str:
    return name.lstrip(".").split(".")[0]


def test_refbp_nn_never_imports_the_fd_package_or_its_contract():
    for path, names in imported_modules("refbp/nn").items():
        bad = [n for n in names if "perturbed" in n or "loss_forms" in n or top_level(n) == "oracle"]
        assert not bad, (path, bad)


def test_the_fd_package_reads_refbp_nn_only_through_its_public_interface():
    for path, names in imported_modules("refbp/perturbed").items():
        assert not [n for n in names if top_level(n) in ("torch", "oracle")], path
    for path in sorted((ROOT / "refbp/perturbed").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names if top_level(alias.name) == "refbp"]
            elif isinstance(node, ast.ImportFrom) and not node.level and top_level(node.module) == "refbp":
                modules = [node.module]
                if node.module == "refbp.nn":  # its public names, or its activations and losses modules
                    assert {a.name for a in node.names} <= PUBLIC_NN, (str(path), node.lineno)
            else:
                continue
            assert set(modules) <= ALLOWED_REFBP, (str(path), node.lineno, modules)


@pytest.mark.parametrize("folder", ["oracle", "cases"])
def test_references_never_import_the_fd_package(folder):
    for path, names in imported_modules(folder).items():
        assert not [n for n in names if n.startswith("refbp.perturbed")], path


def test_the_contract_imports_neither_side():
    names = imported_modules("refbp")["refbp/loss_forms.py"]
    assert not [n for n in names if top_level(n) in ("refbp", "oracle", "torch")], names


@pytest.mark.parametrize("folder", FOLDERS)
def test_no_import_inside_a_function(folder):
    for path in sorted((ROOT / folder).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                inner = [n.lineno for n in ast.walk(node) if isinstance(n, (ast.Import, ast.ImportFrom))]
                assert not inner, (str(path.relative_to(ROOT)), node.name, inner)


def module_name(path) -> str:
    name = str(path.relative_to(ROOT)).removesuffix(".py").replace("/", ".")
    return name.removesuffix(".__init__")


def imports_of(path) -> set[str]:
    """Absolute names of every module-level import of `path`, `from . import x` as package.x."""
    importer = module_name(path).split(".")
    package = importer if path.name == "__init__.py" else importer[:-1]
    found = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[: len(package) - node.level + 1]) if node.level else ""
            module = ".".join(filter(None, [base, node.module]))
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def test_no_import_cycle():
    paths = [path for folder in FOLDERS for path in sorted((ROOT / folder).rglob("*.py"))]
    known = {module_name(path) for path in paths}
    # A package's __init__ imports its own modules: that is no cycle back to it.
    edges = {module_name(p): {t for t in imports_of(p) if t in known and not module_name(p).startswith(t + ".")
                              and t != module_name(p)} for p in paths}
    state: dict[str, int] = {}

    def visit(node, stack):
        state[node] = 1
        for target in sorted(edges[node]):
            assert state.get(target) != 1, " -> ".join(stack + [node, target])
            if target not in state:
                visit(target, stack + [node])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [])
