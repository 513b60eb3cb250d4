"""The core install and its extras (pyproject.toml): with every extra's modules missing, the suite
still runs; a command that needs a missing extra says which, in one line, and exits 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from refbp.cli.extras import EXTRA_OF_MODULE

ROOT = Path(__file__).resolve().parents[1]
# Runs refbp's CLI with some top-level modules made impossible to import, as if not installed.
WITHOUT = """
import sys, importlib.abc
class Missing(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {blocked!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, Missing())
from refbp.cli import main
sys.exit(main({argv!r}))
"""


def refbp_without(blocked: set[str], argv: list[str], tmp_path) -> subprocess.CompletedProcess:
    code = WITHOUT.format(blocked=sorted(blocked), argv=argv)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data")}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env
    )


def test_the_core_runs_the_suite_without_any_extra(tmp_path):
    done = refbp_without(
        set(EXTRA_OF_MODULE),
        ["run", str(ROOT / "cases" / "seed"), "--report-dir", str(tmp_path / "reports"), "--no-progress"],
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "1/1 cases passed" in done.stdout
    assert list((tmp_path / "reports").glob("run-*/report.html"))


@pytest.mark.parametrize(
    "blocked, argv, extra",
    [
        ({"fastapi", "uvicorn"}, ["serve", "--port", "0"], "service"),
        ({"dask", "distributed"}, ["run", "--executor", "dask://127.0.0.1:9", "--no-report"], "cluster"),
        (
            {"psycopg"},
            ["history", "--database", "postgresql+psycopg://refbp:secret@127.0.0.1:9/refbp"],
            "store-postgres",
        ),
    ],
)
def test_a_command_needing_a_missing_extra_names_it(tmp_path, blocked, argv, extra):
    done = refbp_without(blocked, argv, tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and f"refbp[{extra}]" in lines[0] and "Traceback" not in done.stderr


def test_every_extra_module_belongs_to_an_extra_of_pyproject():
    text = (ROOT / "pyproject.toml").read_text()
    for extra in set(EXTRA_OF_MODULE.values()):
        assert f"\n{extra} = [" in text, extra
