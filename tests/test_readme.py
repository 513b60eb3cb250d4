"""The README says what is true: its commands parse with refbp's own parser, its links lead to
files, it stays short (a newcomer reads it in five minutes), and its quick start is the one
`.ci/run` runs."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from refbp.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
MAX_LINES = 250


def readme_commands() -> list[str]:
    """Every `refbp ...` line of the README's shell blocks, its comment removed."""
    found = []
    for block in re.findall(r"```sh\n(.*?)```", README, flags=re.S):
        for line in block.splitlines():
            for command in line.split("&&"):
                command = command.split("#", 1)[0].strip()
                if command.startswith("refbp "):
                    found.append(command)
    return found


def test_the_readme_is_short():
    assert len(README.splitlines()) <= MAX_LINES


@pytest.mark.parametrize("command", readme_commands())
def test_every_readme_command_parses(command):
    args = build_parser().parse_args(shlex.split(command)[1:])
    assert args.command == shlex.split(command)[1]


def test_every_link_leads_to_a_file():
    links = re.findall(r"\]\(([^)#]+)\)", README)
    assert links
    missing = [link for link in links if not link.startswith("http") and not (ROOT / link).exists()]
    assert not missing


def test_the_quick_start_is_what_ci_runs():
    install = re.search(r"```sh\n(python3 -m venv .*)\n(pytest)\n```", README)
    assert install, "the quick start is two commands: the install-and-run line, then pytest"
    ci = (ROOT / ".ci" / "run").read_text()
    assert "torch==2.13.0" in install.group(1) and "torch==2.13.0" in ci
    assert "pip install -e '.[test]'" in install.group(1) and ".[test]" in ci
