"""docs/formats.md section 6 (the command table) is in step with the parser: every option a row
documents exists in that command's --help, and every option of a command is documented in its
row (the CI options of section 6.1 included); each row's usage parses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from refbp.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
FORMATS = (ROOT / "docs" / "formats.md").read_text()
SECTION = FORMATS[FORMATS.index("## 6. Command line") : FORMATS.index("### 6.1")]


def rows() -> dict[str, str]:
    """`run` -> the usage cell of its row (`cases export` and `bench fd|...` keep their verb)."""
    found = {}
    for line in SECTION.splitlines():
        match = re.match(r"\| `refbp ([a-z]+(?: [a-z]+)?)(.*?)` \|", line)
        if match:
            name = match.group(1).split()[0] if match.group(1).split()[0] != "cases" else match.group(1)
            found[name] = match.group(1) + match.group(2)
    return found


def subparser(name: str):
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    words = name.split()
    command = sub.choices[words[0]]
    if len(words) > 1:
        verbs = next(a for a in command._actions if a.__class__.__name__ == "_SubParsersAction")
        command = verbs.choices[words[1]]
    return command


def options(parser) -> set[str]:
    return {o for action in parser._actions for o in action.option_strings if o.startswith("--")} - {"--help"}


def test_the_table_has_a_row_per_command():
    documented = rows()
    for command in ("run", "verify", "check", "fuzz", "cases export", "cases list", "schema", "grade"):
        assert command in documented, command


@pytest.mark.parametrize("command", sorted(set(rows()) - {"bench"}))
def test_a_rows_options_are_the_commands_options(command):
    usage = rows()[command]
    documented = set(re.findall(r"--[a-z][a-z0-9-]*", usage))
    actual = options(subparser(command))
    assert documented - actual == set(), f"{command}: documented but not in --help"
    assert actual - documented == set(), f"{command}: in --help but not documented in section 6"


def test_check_and_fuzz_rows_name_the_pipe_and_the_layers():
    for command in ("check", "fuzz"):
        usage = rows()[command]
        assert "--cmd 'COMMAND ARGS' [--layer]" in usage and "--layer FILE.py[:NAME]" in usage
        assert "--dtype float64\\|float32\\|float16\\|bfloat16" in usage


def test_the_schema_row_names_every_schema():
    from refbp.cases.schema import SCHEMAS

    assert set(rows()["schema"].split(" ", 1)[1].replace("\\", "").split("|")) == set(SCHEMAS)
