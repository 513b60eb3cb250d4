"""scripts/lint.sh passes: ruff check, ruff format --check and mypy (basic on refbp, strict on refbp.cases
and refbp.oracle), exactly what CI runs (.ci/run, docs/testing.md). The tools come with the `test` extra;
without them this skips outside CI and fails under CI=true."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import missing_component

ROOT = Path(__file__).resolve().parents[1]
# The interpreter's own bin folder first: ruff and mypy from the environment running the tests.
PATH = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])


def test_ruff_and_mypy_pass():
    missing = [tool for tool in ("ruff", "mypy") if shutil.which(tool, path=PATH) is None]
    if missing:
        missing_component(f"{' and '.join(missing)} not installed (pip install -e '.[test]')")
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "lint.sh")],
        cwd=ROOT,
        env={**os.environ, "PATH": PATH},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"scripts/lint.sh failed:\n{done.stdout[-8000:]}\n{done.stderr[-2000:]}"
