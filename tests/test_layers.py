"""The layer rules of docs/architecture.md, checked on the source with ast: who may import whom,
and no import cycles.

Every import counts, at module level or inside a function (an import inside a function
still ties the two modules together; it only hides the tie from the reader). Relative
imports are resolved to absolute names. A rule failing names the file and the import.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Folder -> installed package: cases/ and oracle/ stay top-level folders, installed as refbp.cases
# and refbp.oracle (pyproject.toml's package-dir).
PACKAGES = {"refbp": "refbp", "cases": "refbp.cases", "oracle": "refbp.oracle"}

# The finite-difference speed package (fast forms of refbp's forward for refbp.oracle.fd). Its
# name is set when the package lands: the one place to change it.
FD_PACKAGE = "refbp.perturbed"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    parts[0:1] = PACKAGES[parts[0]].split(".")
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def project_files() -> dict[str, Path]:
    """Module name -> file, for every module of the project's packages."""
    return {module_name(p): p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))}


@cache
def import_statements(module: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(module named, names taken from it), relative imports made absolute:
    `import a.b` gives ("a.b", ()), `from .c import d, e` in package a gives ("a.c", ("d", "e"))."""
    path = project_files()[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, ()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            found.append((base, tuple(alias.name for alias in node.names)))
    return tuple(found)


@cache
def imports_of(module: str) -> frozenset[str]:
    """Every name `module` imports: `import a.b` gives a.b; `from a import b` gives a and a.b
    (b may be a module or a name in a)."""
    names = set()
    for base, taken in import_statements(module):
        names.add(base)
        names.update(f"{base}.{name}" for name in taken)
    return frozenset(names)


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def modules_under(prefix: str) -> list[str]:
    return [m for m in project_files() if within(m, prefix)]


def forbidden_imports(prefix: str, forbidden, allowed=()) -> dict[str, list[str]]:
    """{file: [forbidden names it imports]} for every module under `prefix`."""
    found = {}
    for module in modules_under(prefix):
        bad = sorted(
            n
            for n in imports_of(module)
            if any(within(n, f) for f in forbidden) and not any(within(n, a) for a in allowed)
        )
        if bad:
            found[str(project_files()[module].relative_to(ROOT))] = bad
    return found


# ---- who may import whom ---------------------------------------------------------------


def test_refbp_nn_never_imports_torch_oracle_or_the_fd_package():
    assert not forbidden_imports("refbp.nn", ("torch", "refbp.oracle", FD_PACKAGE))


def test_the_fd_package_exists_under_its_name():
    assert modules_under(FD_PACKAGE), f"no package {FD_PACKAGE}: set FD_PACKAGE at the top of this file"


def test_the_fd_package_never_imports_torch_or_oracle():
    assert not forbidden_imports(FD_PACKAGE, ("torch", "refbp.oracle"))


def test_the_fd_package_reads_refbp_nn_only_through_its_public_interface():
    """numpy, the standard library, and refbp.nn's package-level public names (`from refbp.nn
    import build_model`), never a module or a private name inside it nor a layer above."""
    above = ("refbp.check", "refbp.report", "refbp.cli", "refbp.bench", "refbp.testing")
    bad = []
    for module in modules_under(FD_PACKAGE):
        for base, taken in import_statements(module):
            inside_nn = within(base, "refbp.nn") and (base != "refbp.nn" or any(n.startswith("_") for n in taken))
            foreign = base.split(".")[0] not in sys.stdlib_module_names | {"numpy", "refbp", "__future__"}
            if inside_nn or foreign or any(within(base, a) for a in above):
                bad.append(f"{module}: from {base} import {', '.join(taken)}" if taken else f"{module}: import {base}")
    assert not bad, bad


def test_the_fd_contract_imports_neither_side():
    """refbp.loss_forms, the typed forms refbp.oracle.fd consumes, belongs to neither refbp.nn, the FD
    package nor oracle: both sides import it, it imports none of them."""
    assert not forbidden_imports("refbp.loss_forms", ("refbp.nn", FD_PACKAGE, "refbp.oracle", "torch"))


def test_the_diagnosis_references_never_import_the_code_they_diagnose():
    """refbp.diagnosis re-derives its (correct and bugged) references in plain numpy: it never
    imports refbp.nn, the FD package, oracle or torch, nor the checking layer that calls it."""
    assert not forbidden_imports(
        "refbp.diagnosis", ("refbp.nn", FD_PACKAGE, "refbp.oracle", "torch", "refbp.check", "refbp.report", "refbp.cli")
    )


def test_the_layer_checks_never_import_the_code_refbp_checks_itself_with():
    """refbp.layer checks a user's layers against torch (refbp.oracle.torch_layers) and their own forward:
    never through refbp.nn, the FD package, the report or the CLI."""
    assert not forbidden_imports("refbp.layer", ("refbp.nn", FD_PACKAGE, "refbp.report", "refbp.cli"))


@pytest.mark.parametrize(
    "prefix", ["refbp.nn", FD_PACKAGE, "refbp.oracle.fd", "refbp.cases", "refbp.store", "refbp.diagnosis"]
)
def test_no_import_inside_a_function(prefix):
    """The implementation, the FD forms, the references' FD and the loader import at the top:
    an import inside a function is how a cycle hides."""
    inner = []
    for module in modules_under(prefix):
        path = project_files()[module]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                inner += [
                    f"{path.relative_to(ROOT)}:{n.lineno} in {node.name}"
                    for n in ast.walk(node)
                    if isinstance(n, (ast.Import, ast.ImportFrom))
                ]
    assert not inner, inner


def test_references_never_import_the_code_they_check():
    assert not forbidden_imports("refbp.oracle", ("refbp.nn", FD_PACKAGE))


def test_cases_import_nothing_of_refbp_but_the_table_of_names():
    assert not forbidden_imports(
        "refbp.cases", ("refbp", "refbp.oracle", "torch"), allowed=("refbp.names", "refbp.cases")
    )


def test_the_table_of_names_imports_nothing():
    assert imports_of("refbp.names") <= {"__future__", "__future__.annotations", "dataclasses", "dataclasses.dataclass"}


# The report draws what verdicts carry and the CLI parses and calls library functions: neither
# computes, so neither reaches for the implementation, the references, torch or the case loader
# (they go through refbp.check, refbp.bench and the other library functions).
COMPUTING = ("refbp.nn", "refbp.oracle", FD_PACKAGE, "torch")
RELOADING = (
    "refbp.explain",
    "refbp.explain_rnn",
    "refbp.cases.load",
    "refbp.cases.load_case",
    "refbp.cases.parse_case",
    "refbp.cases.read_json",
    "refbp.cases.discover",
)
REPORT_FILES_IN_FLUX = {}


def _files(prefix: str, in_flux: dict[str, str]):
    for module in modules_under(prefix):
        path = str(project_files()[module].relative_to(ROOT))
        marks = [pytest.mark.xfail(strict=True, reason=in_flux[path])] if path in in_flux else []
        yield pytest.param(path, marks=marks, id=path)


@pytest.mark.parametrize("path", list(_files("refbp.report", REPORT_FILES_IN_FLUX)))
def test_the_report_computes_nothing(path):
    module = module_name(ROOT / path)
    bad = [n for n in imports_of(module) if any(within(n, f) for f in COMPUTING + RELOADING)]
    assert not bad, f"{path} imports {sorted(bad)}"


@pytest.mark.parametrize("path", list(_files("refbp.cli", {})))
def test_the_cli_computes_nothing(path):
    module = module_name(ROOT / path)
    bad = [n for n in imports_of(module) if any(within(n, f) for f in COMPUTING)]
    assert not bad, f"{path} imports {sorted(bad)}"


@pytest.mark.parametrize("path", list(_files("refbp.service", {})))
def test_the_service_computes_nothing(path):
    """The service judges through refbp.check and reads through refbp.store: no implementation,
    reference or torch of its own."""
    module = module_name(ROOT / path)
    bad = [n for n in imports_of(module) if any(within(n, f) for f in COMPUTING)]
    assert not bad, f"{path} imports {sorted(bad)}"


def test_the_parallel_layer_knows_units_of_work_only():
    """refbp.parallel runs functions over units (local processes, guarded workers, Dask); what a
    unit computes (finite differences, a case, a picture) lives with its caller."""
    assert not forbidden_imports(
        "refbp.parallel",
        (
            "refbp.oracle",
            "refbp.cases",
            "torch",
            "refbp.nn",
            FD_PACKAGE,
            "refbp.check",
            "refbp.report",
            "refbp.cli",
            "refbp.fuzz",
            "refbp.service",
        ),
    )


def test_the_benchmarks_never_import_the_service():
    """refbp.bench measures `refbp serve` from outside, as a client does: it starts the command
    (refbp.serving) and speaks HTTP, never importing the service's internals."""
    assert not forbidden_imports("refbp.bench", ("refbp.service",))


def test_the_pipe_client_talks_to_a_command_only():
    """refbp.pipe (a program over a pipe, `--cmd`) speaks JSON lines with numpy and the standard
    library: refbp.check loads it as an adapter factory, never the other way round."""
    assert not forbidden_imports(
        "refbp.pipe", ("refbp", "refbp.cases", "refbp.oracle", "torch"), allowed=("refbp.pipe",)
    )


def test_the_report_never_runs_workers():
    """The report is drawn by whatever map its caller passes (refbp.cli.outcome.picture_drawer)."""
    assert not forbidden_imports("refbp.report", ("refbp.parallel",))


@pytest.mark.parametrize("path", list(_files("refbp.grade", {})))
def test_the_grading_computes_nothing(path):
    """refbp grade judges through refbp.check (the references, the diagnosis) and only turns its
    verdicts into points and feedback: no implementation, reference or torch of its own."""
    module = module_name(ROOT / path)
    bad = [n for n in imports_of(module) if any(within(n, f) for f in COMPUTING)]
    assert not bad, f"{path} imports {sorted(bad)}"


# ---- no import cycles --------------------------------------------------------------------


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports.

    `from a import b` ties the importer to the module a.b when b is one, and to a when b is a
    name defined in a, or when a is not a package above the importer (a's __init__ runs
    first). A package above the importer is already being imported when the importer runs:
    taking a submodule from it (`from . import losses`) is no tie to its __init__.
    """
    modules = project_files()

    def resolve(name):
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name

    graph = {}
    for module in modules:
        targets = set()
        for base, taken in import_statements(module):
            above = within(module, base)
            for name in taken:
                if f"{base}.{name}" in modules:
                    targets.add(f"{base}.{name}")
                else:
                    targets.add(resolve(base))
            if not taken or not above:
                targets.add(resolve(base))
        graph[module] = targets - {module, ""}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def cycle_path(graph, component: list[str]) -> str:
    """One closed path through a cycle's modules, for the failure message: a -> b -> a."""
    members, start = set(component), component[0]
    path, seen = [start], {start}
    while True:
        step = sorted(w for w in graph[path[-1]] if w in members)
        back = [w for w in step if w == start]
        if back and len(path) > 1:
            return " -> ".join(path + [start])
        fresh = [w for w in step if w not in seen]
        if not fresh:
            return " <-> ".join(component)
        path.append(fresh[0])
        seen.add(fresh[0])


def test_no_import_cycle():
    graph = import_graph()
    found = cycles(graph)
    assert not found, "import cycles: " + "; ".join(cycle_path(graph, c) for c in found)


def test_the_cycle_finder_finds_a_cycle_and_names_its_modules():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"d"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycle_path(graph, ["a", "b", "c"]) == "a -> b -> c -> a"
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_imports_inside_functions_and_relative_imports_are_seen():
    # refbp.check.references imports oracle inside a function; refbp.check.fd_rows imports
    # refbp.nn.backend relatively.
    assert "refbp.oracle.torch_reference" in imports_of("refbp.check.references")
    assert "refbp.nn.backend" in imports_of("refbp.check.fd_rows")


# ---- what importing costs --------------------------------------------------------------


def test_importing_refbp_the_cli_and_refbp_testing_loads_neither_torch_nor_hypothesis():
    """torch only where a reference runs; hypothesis only for refbp.testing.strategies (an extra)."""
    code = (
        "import sys, refbp, refbp.nn, refbp.cli, refbp.testing; "
        "print('torch' in sys.modules, 'hypothesis' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
