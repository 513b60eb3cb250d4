"""Installed names that cannot collide: cases/ and oracle/ are folders of the repository installed
as refbp.cases and refbp.oracle, so a user's own cases/ or oracle/ folder shadows nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]
FOLDER_OF = {"refbp.cases": "cases", "refbp.oracle": "oracle"}


def installed_packages() -> list[str]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]


def test_every_package_folder_is_listed_and_every_listed_package_exists():
    folders = set()
    for top, package in (("refbp", "refbp"), ("cases", "refbp.cases"), ("oracle", "refbp.oracle")):
        for init in (ROOT / top).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT / top).parts
            folders.add(".".join((package, *parts)))
    assert set(installed_packages()) == folders


def test_the_top_level_folders_are_mapped_under_refbp():
    mapping = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    assert mapping == FOLDER_OF


def _hostile_folders(folder: Path) -> None:
    """A user's own packages called cases and oracle: importing either would end the process."""
    for name in ("cases", "oracle"):
        (folder / name).mkdir(exist_ok=True)
        (folder / name / "__init__.py").write_text(f'raise SystemExit("the user\'s own {name} was imported")\n')


def test_the_cli_and_python_m_refbp_run_from_a_folder_with_its_own_cases_and_oracle(tmp_path):
    refbp = Path(sys.executable).with_name("refbp")
    exported = subprocess.run(
        [str(refbp), "cases", "export", "cases"], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert exported.returncode == 0, exported.stderr
    _hostile_folders(tmp_path)
    for command in ([str(refbp)], [sys.executable, "-m", "refbp"]):
        done = subprocess.run(
            [*command, "run", "cases/seed-2-2-2.json", "--no-report", "--no-progress"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert "1/1 cases passed" in done.stdout
    helped = subprocess.run(
        [str(refbp), "bench", "service", "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert helped.returncode == 0 and "usage" in helped.stdout, helped.stderr[-2000:]
