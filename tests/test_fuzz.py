"""`refbp fuzz`: reproducible draws per seed and index, each example checked as `run` or
`check` checks a case, failures shrunk by hypothesis and saved as cases that reproduce,
exit codes 0 / 1 / 2 (in-process, small budgets)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from refbp.cases import load_case
from refbp.cli import main
from refbp.fuzz import FuzzOptions, FuzzUnit, Target, check_unit, draw, run_fuzz
from refbp.fuzz import shrink as shrink_module
from refbp.fuzz.draw import ROUND_SIZE, draw_example, draw_round
from refbp.fuzz.kinds import NoSupportedKind, kind_to_draw
from refbp.fuzz.space import RANGES_BY_DTYPE, example_documents, value_range_of
from refbp.fuzz.unit import ExampleOutcome

ELU_BUG = "examples/numpy_mlp_elu_bug.py:factory"
CORRECT = "examples/numpy_mlp.py:factory"


def fresh_round(seed, index=0, kind="all", dtype="float64"):
    draw._round.cache_clear()
    return draw_round(seed, index, kind, dtype)


def test_the_same_seed_draws_the_same_examples_and_another_seed_others():
    first, again, other = fresh_round(7), fresh_round(7), fresh_round(8)
    assert len(first) == ROUND_SIZE and first == again
    assert first != other
    assert draw_example(7, 5, "all", "float64") == first[5]


def test_the_same_seed_draws_the_same_examples_in_another_process():
    """Another process: another hash seed, other modules loaded (no pytest, no tests), which
    hypothesis would otherwise mine for constants (refbp.fuzz.draw.seed_only)."""
    code = (
        "import json; from refbp.fuzz.draw import draw_example; "
        "print(json.dumps([draw_example(3, i, 'all', 'float32') for i in range(20, 40)]))"
    )
    drawn = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "12345"},
    ).stdout
    assert json.loads(drawn) == fresh_round(3, dtype="float32")[20:40]


def test_a_run_with_the_same_seed_checks_the_same_examples():
    options = FuzzOptions(examples=8, seed=11, progress=False)
    runs = [run_fuzz(options) for _ in range(2)]
    assert [o.document for o in runs[0].outcomes] == [o.document for o in runs[1].outcomes]
    assert [o.passed for o in runs[0].outcomes] == [o.passed for o in runs[1].outcomes]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_drawn_documents_are_cases_of_the_space(dtype):
    documents = fresh_round(1, dtype=dtype)
    assert {d["dtype"] for d in documents} == {dtype}
    assert {value_range_of(d) for d in documents} <= set(RANGES_BY_DTYPE[dtype])
    assert {d["network"]["kind"] for d in documents} == {"mlp", "rnn"}
    assert not [d for d in documents if value_range_of(d) == "large" and "train" in d]


def test_the_space_refuses_unknown_kinds_and_dtypes():
    with pytest.raises(ValueError, match="kind"):
        example_documents("cnn")
    with pytest.raises(ValueError, match="dtype"):
        example_documents("mlp", "float8")  # float16 is a dtype now


def test_a_unit_is_checked_as_run_checks_a_case():
    outcome = check_unit(FuzzUnit(0, 3, "mlp"), Target())
    assert outcome.passed and outcome.supported and outcome.failure == ""
    assert outcome.features["kind"] == "mlp" and outcome.features["depth"] >= 1
    assert 0 <= outcome.worst_margin < 1


def test_an_implementation_that_declines_is_not_supported_not_passed():
    outcome = check_unit(FuzzUnit(0, 0, "rnn"), Target(CORRECT))
    assert not outcome.supported


def test_the_cli_exits_0_on_clean_examples(capsys):
    assert main(["fuzz", "--examples", "6", "--seed", "2", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "6 examples checked" in out and "examples/s" in out
    for feature in ("kind", "activations", "loss", "depth", "values", "optimizer"):
        assert f"\n  {feature}" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["--examples", "0"],
        ["--minutes", "0"],
        ["--examples", "3", "--minutes", "1"],
        ["--kind", "cnn"],
        ["--dtype", "float8"],
        ["--impl", "no_such_module:factory"],
        ["--impl", "examples/numpy_mlp.py:no_factory"],
    ],
)
def test_bad_usage_exits_2(capsys, argv):
    assert main(["fuzz", "--no-progress", *argv]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]  # argparse's usage lines come before it
    assert "error" in last and "Traceback" not in last


def test_every_example_declined_exits_2(capsys):
    assert main(["fuzz", "--kind", "rnn", "--examples", "3", "--impl", CORRECT, "--no-progress"]) == 2
    assert "supports none" in capsys.readouterr().err


def test_a_planted_bug_is_found_saved_and_reproduced(tmp_path, capsys):
    # example 41 of seed 0 (mlp) is the first with an elu layer whose nets go negative; the
    # factory says it supports MLPs only (factory.kinds), so --kind all draws MLPs only
    code = main(
        [
            "fuzz",
            "--examples",
            "42",
            "--impl",
            ELU_BUG,
            "--no-shrink",
            "--save-failures",
            str(tmp_path),
            "--no-progress",
        ]
    )
    assert code == 1
    printed = capsys.readouterr().out
    assert "0 not supported" in printed and "kind        mlp 42" in printed
    (saved,) = tmp_path.glob("*.json")
    document = json.loads(saved.read_text())
    case = load_case(saved)  # a valid case, id = file name
    assert case.id.startswith("fuzz-mlp-") and "elu" in case.network.activations
    assert document["title"].startswith("found by refbp fuzz: ") and "grads" in document["title"]
    assert "--kind mlp --seed 0" in document["source"] and "example 41" in document["source"]
    assert "regression" in document["tags"]
    capsys.readouterr()
    assert main(["check", "--impl", ELU_BUG, str(saved), "--no-report", "--no-progress"]) == 1
    assert main(["check", "--impl", CORRECT, str(saved), "--no-report", "--no-progress"]) == 0
    assert main(["run", str(saved), "--no-report", "--no-progress"]) == 0  # refbp itself is right


def test_the_kinds_drawn_follow_what_the_factory_says_it_supports():
    def undeclared(case):
        return None

    def mlp_only(case):
        return None

    mlp_only.kinds = ("mlp",)
    assert kind_to_draw("all", None) == "all" and kind_to_draw("all", undeclared) == "all"
    assert kind_to_draw("all", mlp_only) == "mlp" and kind_to_draw("mlp", mlp_only) == "mlp"
    with pytest.raises(NoSupportedKind, match="supports none"):
        kind_to_draw("rnn", mlp_only)
    mlp_only.kinds = ("mlp", "lstm")
    with pytest.raises(NoSupportedKind, match="must name"):
        kind_to_draw("all", mlp_only)


def test_shrinking_replays_the_round_and_keeps_the_smallest_failure(monkeypatch):
    """With a fast stand-in check (fails every MLP of 3 or more layers), the replay meets the
    drawn failing example first, and hypothesis shrinks it to 3 layers of 1 unit."""
    documents = fresh_round(4, kind="mlp")
    deep = [i for i, d in enumerate(documents) if len(d["network"]["sizes"]) >= 4]
    first = deep[0]
    checked = []

    def stand_in(index, document, target):
        checked.append(document)
        failing = len(document["network"]["sizes"]) >= 4
        return ExampleOutcome(index, document, passed=not failing, failure="deep" if failing else "")

    monkeypatch.setattr(shrink_module, "check_document", stand_in)
    earlier = {json.dumps(d) for d in documents[:first]}
    shrunk = shrink_module.shrink(4, 0, "mlp", "float64", Target(), earlier, first)
    assert checked[0] == documents[first]  # the replay reached the same example first
    sizes = shrunk.outcome.document["network"]["sizes"]
    assert len(sizes) == 4 and sizes == [1, 1, 1, 1]
    assert shrunk.original_index == first and shrunk.checks == len(checked)


def test_a_float32_run_raises_no_false_alarm():
    run = run_fuzz(FuzzOptions(examples=40, seed=5, dtype="float32", progress=False))
    assert not run.failed, [o.failure for o in run.failed]
    assert max(o.worst_margin for o in run.checked) < 1
