"""`refbp mutate`: the mutants of refbp.nn's backward code, and a smoke run of two of them
against the seed's case in a temporary copy (the working tree is never changed)."""

from __future__ import annotations

import ast
import hashlib

import pytest

from refbp.cli import main
from refbp.mutate import TARGETS, mutants_of, report_markdown, report_summary, run_mutation
from refbp.mutate.equivalent import EQUIVALENT
from refbp.mutate.mutants import mutants_in_source
from refbp.mutate.report import SUMMARY_COMMAND
from refbp.mutate.run import project_root

ROOT = project_root()


def by_key(mutants):
    return {m.key: m for m in mutants}


def test_every_target_function_exists_and_every_mutant_parses():
    mutants = mutants_of(ROOT)
    assert len(mutants) > 200
    assert {m.path for m in mutants} == set(TARGETS)
    for mutant in mutants:
        ast.parse(mutant.apply((ROOT / mutant.path).read_text()))
    assert len({m.key for m in mutants}) == len(mutants)  # keys name one mutant each


def test_the_operators_cover_transpositions_signs_indices_and_dropped_terms():
    keys = by_key(
        mutants_of(
            ROOT,
            {
                "refbp/nn/dense.py": ("backward",),
                "refbp/nn/rnn.py": ("RNN.through_time",),
                "refbp/nn/losses.py": ("HalfSSE.gradient",),
            },
        )
    )
    assert "dense.backward: `flat_net.T` -> `flat_net`" in keys  # transposition
    assert "losses.HalfSSE.gradient: `outputs - targets` -> `(-(outputs - targets))`" in keys  # sign
    assert "losses.HalfSSE.gradient: `outputs - targets` -> `outputs`" in keys  # dropped term
    assert "rnn.RNN.through_time: `grad_h += carried` -> `pass`" in keys  # dropped statement
    assert "rnn.RNN.through_time: `-1` -> `1`" in keys  # index (sign of -1)


def test_a_mutant_replaces_only_its_span():
    source = "def f(a, b):\n    return a * (b - 1.0)\n"
    (mutant,) = [m for m in mutants_in_source(source, "m.py", ("f",)) if m.after == "(b + 1.0)"]
    assert mutant.apply(source) == "def f(a, b):\n    return a * ((b + 1.0))\n"  # the replacement parenthesised
    dropped = [m for m in mutants_in_source(source, "m.py", ("f",)) if m.label == "right term dropped"]
    assert {m.apply(source) for m in dropped} == {"def f(a, b):\n    return a\n", "def f(a, b):\n    return a * (b)\n"}


def test_every_listed_equivalent_mutant_exists():
    keys = {m.key for m in mutants_of(ROOT)}
    assert set(EQUIVALENT) <= keys, set(EQUIVALENT) - keys


def test_two_mutants_against_the_seed_case_in_a_copy():
    mutants = by_key(mutants_of(ROOT))
    wrong_slope = mutants["activations.Sigmoid.derivative: `1.0 - out` -> `(1.0 + out)`"]
    adam_only = mutants["optim.Adam.step: `1.0 - beta1` -> `1.0`"]  # the seed trains with SGD
    files = [ROOT / m.path for m in (wrong_slope, adam_only)]
    before = [hashlib.sha256(f.read_bytes()).hexdigest() for f in files]
    run = run_mutation([wrong_slope, adam_only], paths=["cases/seed"], timeout=120)
    killed, survived = run.results
    assert killed.killed and killed.case == "seed-2-2-2" and "grads" in killed.reason
    assert not survived.killed and not survived.equivalent
    assert run.score == pytest.approx(0.5) and run.exit_code() == 1
    assert [hashlib.sha256(f.read_bytes()).hexdigest() for f in files] == before  # never left in the tree
    summary = report_summary(run)
    assert "score 50.0%" in summary and "**a gap in the suite**" in summary and "optim.Adam.step" in summary
    assert "## Every mutant" not in summary and "## Every mutant" in report_markdown(run)


def test_docs_mutation_md_is_the_commands_summary():
    """docs/mutation.md is written by `refbp mutate --summary`, never by hand: it says so, and its
    score line is the command's."""
    text = (ROOT / "docs" / "mutation.md").read_text()
    assert SUMMARY_COMMAND in text and "\nrefbp mutate: " in text and "## Every mutant" not in text


def test_the_cli_lists_mutants_and_refuses_unknown_functions(capsys):
    assert main(["mutate", "--list", "--function", "dense.backward"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines and all("dense.backward" in line for line in lines)
    assert main(["mutate", "--function", "dense.nothing"]) == 2
