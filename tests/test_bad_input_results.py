"""The catalogue of bad input, continued: result files through `verify`, usage refused in one
line with nothing half-written, absurd sizes refused before allocation, and wrong answers
that are failed checks (exit 1), not bad input."""

from __future__ import annotations

import json
import os
import re
import shutil
import tracemalloc

import pytest

from bad_input import CE_DOC, DEEP, DROP, RNN_DOC, SEED, MiB, assert_one_bad_line, case, cli
from refbp.cases import SUITE_DIR

OTHER = "mlp-depth1-identity-b1"  # the case the bad results name; the good result is for the seed
UNTRAINED = "rnn-t1-tanh-mse"
GOOD_RESULT = {
    "format": "refbp-result/1",
    "case": "seed-2-2-2",
    "implementation": "good",
    "outputs": [[0.75136507, 0.772928465]],
    "loss": 0.298371109,
}
BASE_RESULT = {
    "format": "refbp-result/1",
    "case": OTHER,
    "implementation": "bad",
    "loss": 0.5,
    "grads": {"layers.0.weight": [[0.1, 0.2, 0.3]]},
}


def result(**changes):
    return case(base=BASE_RESULT, **changes)


def result_text(text):
    return lambda name: text


# kind -> (file text builder, field named, words)
RESULT_KINDS = {
    "result-invalid-json": (result_text("{not json"), "", "invalid JSON"),
    "result-nested-1200-deep": (result_text(DEEP), "", "nested 1200 levels deep"),
    "result-not-an-object": (result_text("[]"), "", "must be a JSON object"),
    "result-unknown-format": (result(format="refbp-result/9"), "format", "unknown format"),
    "result-format-missing": (result(format=DROP), "format", "is required"),
    "result-unknown-field": (result(gradz={}), "gradz", "unknown field"),
    "result-case-missing": (result(case=DROP), "case", "is required"),
    "result-case-unknown": (result(case="no-such-case"), "case", "unknown case 'no-such-case'"),
    "result-case-empty": (result(case=""), "case", "at least 1 characters"),
    "result-unknown-parameter": (
        result(grads__layers_DOT_5_DOT_weight=[[1.0]]),
        "grads.layers.5.weight",
        "unknown parameter",
    ),
    "result-entry-string": (
        result(grads__layers_DOT_0_DOT_weight=[[0.1, "x", 0.3]]),
        "grads.layers.0.weight[0][1]",
        "must be a number or null, not a string",
    ),
    "result-grads-a-list": (result(grads=[1.0]), "grads", "must be an object"),
    "result-after-without-train": (result(case=UNTRAINED, grads=DROP, loss_after=0.1), "loss_after", "has no training"),
    "result-implementation-number": (result(implementation=3), "implementation", "must be a string"),
    "result-duplicate-key": (
        lambda n: json.dumps(BASE_RESULT).replace('"loss": 0.5', '"loss": 0.5, "loss": 0.4'),
        "loss",
        "appears twice",
    ),
    "bundle-empty": (result_text('{"format": "refbp-results/1", "results": []}'), "results", "must not be empty"),
    "bundle-unknown-field-inside": (
        lambda n: json.dumps(
            {"format": "refbp-results/1", "results": [BASE_RESULT, dict(BASE_RESULT, case="seed-2-2-2", lss=1)]}
        ),
        "results[1].lss",
        "unknown field",
    ),
    "bundle-unknown-field": (
        result_text('{"format": "refbp-results/1", "results": [{"case": "x"}], "x": 1}'),
        "x",
        "unknown field",
    ),
}


def verify_folder(tmp_path):
    cases = tmp_path / "cases"
    cases.mkdir()
    shutil.copy(SEED, cases)
    shutil.copy(SUITE_DIR / "mlp" / f"{OTHER}.json", cases)
    shutil.copy(SUITE_DIR / "rnn" / f"{UNTRAINED}.json", cases)
    (tmp_path / "good.json").write_text(json.dumps(GOOD_RESULT))
    return cases


@pytest.mark.parametrize("kind", sorted(RESULT_KINDS))
def test_bad_result_file_through_verify(tmp_path, capsys, kind):
    build, field, words = RESULT_KINDS[kind]
    cases = verify_folder(tmp_path)
    bad = tmp_path / f"{kind}.json"
    bad.write_text(build(kind))
    outcome = cli(
        capsys, "verify", bad, "--cases", cases, tmp_path / "good.json", "--no-report", "--oracle", "expected"
    )
    assert_one_bad_line(outcome, kind, field, words)


def test_a_second_result_for_one_case_names_both(tmp_path, capsys):
    cases = verify_folder(tmp_path)
    (tmp_path / "again.json").write_text(json.dumps(dict(GOOD_RESULT, loss=0.3)))
    code, out, err = cli(
        capsys,
        "verify",
        "--cases",
        cases,
        tmp_path / "good.json",
        tmp_path / "again.json",
        "--no-report",
        "--oracle",
        "expected",
    )
    assert code == 2
    [line] = err.splitlines()
    assert "again.json: case: a second result for 'seed-2-2-2' (the first: " in line and "good.json" in line
    assert re.search(r"(PASS|PART)  seed-2-2-2", out)


# ---- paths and options --------------------------------------------------------------------
def test_conflicting_duplicate_id_is_bad_input_naming_both(tmp_path, capsys):
    for folder, loss in (("a", "half_sse"), ("b", "sse")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "twin.json").write_text(case(loss=loss, expected=DROP)("twin"))
    shutil.copy(SEED, tmp_path / "a")
    code, _out, err = cli(
        capsys, "run", tmp_path / "a", tmp_path / "b", "--no-report", "--no-progress", "--oracle", "expected"
    )
    assert code == 2
    lines = [line for line in err.splitlines() if "twin.json" in line]
    assert len(lines) == 2  # the first has nothing to check with --oracle expected; the second is the duplicate
    assert any(
        f"b{os.sep}twin.json: id: 'twin' is already used by " in line and f"a{os.sep}twin.json" in line
        for line in lines
    )


def test_the_same_case_twice_is_checked_once_with_a_note(tmp_path, capsys):
    assert cli(capsys, "cases", "export", tmp_path / "my-cases", SEED)[0] == 0
    code, out, err = cli(capsys, "run", SEED, tmp_path / "my-cases", "--no-report", "--no-progress")
    assert code == 0 and len(re.findall(r"(PASS|PART)  seed-2-2-2", out)) == 1
    [note] = err.splitlines()
    assert note.startswith("refbp: note: ") and "the same case as" in note


def test_a_path_that_is_not_a_file(tmp_path, capsys):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    code, out, err = cli(capsys, "run", fifo, SEED, "--no-report", "--no-progress", "--oracle", "expected")
    assert code == 2 and err.splitlines() == [f"{fifo}: is not a regular file"]
    assert re.search(r"(PASS|PART)  seed-2-2-2", out)


def test_an_unreadable_folder_is_reported(tmp_path, capsys, monkeypatch):
    """Run as root, a folder without permissions stays readable: os.walk's refusal is simulated."""
    (tmp_path / "locked").mkdir()
    shutil.copy(SEED, tmp_path)
    real_scandir = os.scandir

    def scandir(path="."):
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    code, out, err = cli(capsys, "run", tmp_path, "--no-report", "--no-progress", "--oracle", "expected")
    assert code == 2 and err.splitlines() == [f"{tmp_path / 'locked'}: cannot read this folder: Permission denied"]
    assert re.search(r"(PASS|PART)  seed-2-2-2", out)


USAGE_KINDS = {
    "run-report-dir-is-a-file": (["run", SEED, "--report-dir", "{file}"], "--report-dir {file}: is a file"),
    "verify-report-dir-is-a-file": (["verify", "{good}", "--report-dir", "{file}"], "--report-dir {file}: is a file"),
    "export-dir-is-a-file": (["cases", "export", "{file}", SEED], "{file}: is a file, not a folder"),
    "verify-complex-step": (["verify", "--fd-method", "complex", "{good}"], "--fd-method complex: the torch reference"),
    "run-empty-folder": (
        ["run", "{empty}", "--report-dir", "{tmp}/reports"],
        "refbp: error: nothing to check: no file found in {empty}",
    ),
    "run-report-dir-under-a-file": (["run", SEED, "--report-dir", "{file}/reports"], "{file} is a file, not a folder"),
    "run-no-reference-applies": (
        ["run", "--oracle", "expected", SUITE_DIR / "mlp" / f"{OTHER}.json", "--no-report"],
        f"{OTHER}.json: --oracle expected: nothing to check",
    ),
    "verify-empty-folder": (
        ["verify", "{empty}", "--report-dir", "{tmp}/reports"],
        "nothing to check: no file found in {empty}",
    ),
    "run-unknown-oracle": (["run", "--oracle", "torch,magic"], "unknown reference magic"),
    "run-no-such-path": (["run", "{tmp}/no-such-folder"], "no such file or folder"),
}


@pytest.mark.parametrize("kind", sorted(USAGE_KINDS))
def test_usage_refused_in_one_line_and_nothing_half_written(tmp_path, capsys, kind):
    argv, words = USAGE_KINDS[kind]
    places = {
        "file": tmp_path / "README.md",
        "good": tmp_path / "good.json",
        "empty": tmp_path / "empty",
        "tmp": tmp_path,
    }
    places["file"].write_text("# a file\n")
    places["good"].write_text(json.dumps(GOOD_RESULT))
    places["empty"].mkdir()
    before = sorted(tmp_path.rglob("*"))
    code, out, err = cli(capsys, *[str(a).format(**places) for a in argv])
    assert code == 2 and "Traceback" not in out + err
    [line] = err.splitlines()
    assert words.format(**places) in line, line
    assert sorted(tmp_path.rglob("*")) == before  # nothing written
    assert places["file"].read_text() == "# a file\n"


# ---- absurd sizes: refused before anything is allocated ---------------------------------
ABSURD = {
    "params-3.6e9": (
        case(base=CE_DOC, network__sizes=[2, 60000, 60000, 3], network__activations=["relu", "relu", "identity"]),
        "network",
        "more than the limit",
    ),
    "random-inputs-4e9": (
        case(
            base=CE_DOC,
            network__sizes=[65536, 3],
            inputs={"random": {"seed": 1, "distribution": "normal", "batch": 65536}},
        ),
        "inputs.random",
        "more than the limit",
    ),
    "rnn-random-inputs-6.5e8": (
        case(
            base=RNN_DOC,
            network__input_size=1000,
            inputs={"random": {"seed": 1, "distribution": "normal", "batch": 65536, "steps": 10000}},
        ),
        "inputs.random",
        "more than the limit",
    ),
    "rnn-random-targets-6.5e8": (
        case(
            base=RNN_DOC,
            network__output_size=1000,
            targets={"random": {"seed": 1, "distribution": "normal"}},
            inputs={"random": {"seed": 1, "distribution": "normal", "batch": 65536, "steps": 10000}},
        ),
        "",
        "more than the limit",
    ),
    "batch-1e12": (
        case(base=CE_DOC, inputs={"random": {"seed": 1, "distribution": "normal", "batch": 10**12}}),
        "inputs.random.batch",
        "outside [1, 65536]",
    ),
}


@pytest.mark.parametrize("kind", sorted(ABSURD))
def test_absurd_sizes_are_refused_before_allocation(tmp_path, capsys, kind):
    build, field, words = ABSURD[kind]
    path = tmp_path / f"{kind}.json"
    path.write_text(build(kind))
    tracemalloc.start()
    try:
        code, _out, err = cli(capsys, "run", path, "--no-report", "--no-progress", "--oracle", "expected")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert code == 2
    [line] = err.splitlines()
    assert f"{kind}.json: {field}" in line and words in line, line
    assert peak < 32 * MiB, f"{peak / MiB:.0f} MiB allocated before the refusal"


# ---- wrong answers are failed checks, not bad input -------------------------------------
WRONG = {
    "transposed": (
        {"grads": {"layers.0.weight": [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]]}},
        "layers.0.weight",
        "shape [3, 2] where the case has [2, 3]",
    ),
    "null-tensor": ({"outputs": None}, "outputs", "given as null"),
    "null-entry": ({"outputs": [[None, 0.2]]}, "outputs", ""),
    "nan": ({"loss": float("nan")}, "loss", ""),
    "infinity": ({"loss": float("inf")}, "loss", ""),
    "overflow-1e400": ({"loss": "OVERFLOW"}, "loss", ""),
    "ragged": ({"outputs": [[0.1, 0.2], [0.3]]}, "outputs", "ragged"),
    "scalar-for-tensor": ({"outputs": 0.5}, "outputs", "shape [] where the case has"),
}


@pytest.mark.parametrize("kind", sorted(WRONG))
def test_wrong_answers_fail_naming_the_tensor(tmp_path, capsys, kind):
    given, tensor, note = WRONG[kind]
    document = {"format": "refbp-result/1", "case": OTHER, **given}
    path = tmp_path / "wrong.json"
    path.write_text(json.dumps(document).replace('"OVERFLOW"', "1e400"))
    code, out, _err = cli(capsys, "verify", path, "--no-report", "--oracle", "torch", "--json")
    [verdict] = json.loads(out)
    assert code == 1 and not verdict["errors"] and not verdict["passed"]
    failed = [c for c in verdict["checks"] if not c["passed"]]
    assert [c["tensor"] for c in failed] == [tensor] and note in failed[0]["note"]
