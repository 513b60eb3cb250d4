"""The catalogue of bad input: every kind through `run`, `verify` or `explain`, in process.

Each kind must give exit code 2, exactly one line on stderr naming the file and the field
(and no traceback), while the good case beside it is still checked. Absurd sizes are
refused before anything is allocated (peak memory asserted). Wrong answers in a result are
not bad input: they are failed checks naming the tensor (exit 1), in the last table.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import tracemalloc

import pytest

from cases import SUITE_DIR
from refbp.cli import main

SEED = SUITE_DIR / "seed" / "seed-2-2-2.json"
SEED_DOC = json.loads(SEED.read_text())
CE_DOC = {"format": "refbp-case/1", "id": "ce", "network": {"kind": "mlp", "sizes": [2, 3], "activations": ["identity"]},
          "loss": "cross_entropy", "params": {"init": {"scheme": "normal", "seed": 1}},
          "inputs": [[0.1, 0.2], [0.3, 0.4]], "targets": [0, 2]}
RNN_DOC = {"format": "refbp-case/1", "id": "rnn", "network": {"kind": "rnn", "input_size": 1, "hidden_size": 1,
                                                              "output_size": 1},
           "loss": "half_sse", "params": {"init": {"scheme": "normal", "seed": 2}},
           "inputs": [[[1.0], [-0.5], [2.0]]], "targets": [[[1.0], [0.0], [2.0]]]}
ALL_PARAMS = ["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"]
DEEP = "[" * 1200 + "]" * 1200
MiB = 2**20


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def keys_of(name: str) -> list:
    """A keyword as a path: levels split at "__", "_DOT_" for a dot inside a key, digits for a list index."""
    return [int(k) if k.isdigit() else k.replace("_DOT_", ".") for k in name.split("__")]


def case(base=SEED_DOC, **changes):
    """A builder of the base case's text with `changes` (keyword paths, see keys_of; DROP removes)."""
    def build(name):
        document = copy.deepcopy(base)
        if "id" in base:  # a case: its id is its file name
            document["id"] = name
        for path, value in changes.items():
            *parents, last = keys_of(path)
            target = document
            for key in parents:
                target = target[key]
            if value is DROP:
                del target[last]
            else:
                target[last] = value
        return json.dumps(document)
    return build


def raw(replace_from, replace_to, base=SEED_DOC):
    """The base case's JSON text with one piece replaced (for what json.dumps cannot write)."""
    def build(name):
        text = json.dumps(dict(base, id=name))
        assert replace_from in text
        return text.replace(replace_from, replace_to)
    return build


DROP = object()
W0 = "params__layers_DOT_0_DOT_weight"  # params.layers.0.weight as a keyword

# kind -> (file text builder, field named, words of the problem)
CASE_KINDS = {
    "invalid-json": (lambda n: '{"format": "refbp-case/1", "id": ', "", "invalid JSON at line 1"),
    "empty-file": (lambda n: "", "", "invalid JSON"),
    "not-an-object": (lambda n: "[1, 2]", "", "must be a JSON object"),
    "nested-1200-deep": (lambda n: DEEP, "", "nested 1200 levels deep"),
    "nested-deep-in-a-field": (raw("[[0.05, 0.1]]", "[" * 40 + "0.05" + "]" * 40), "", "more than the limit of 32"),
    "nan-literal": (raw("[[0.05, 0.1]]", "[[NaN, 0.1]]"), "inputs[0][0]", "NaN is not allowed"),
    "infinity-literal": (raw('"lr": 0.5', '"lr": Infinity'), "train.lr", "Infinity is not allowed"),
    "minus-infinity-literal": (raw("[0.35, 0.35]", "[-Infinity, 0.35]"), "params.layers.0.bias[0]", "-Infinity"),
    "float64-overflow-1e400": (raw("[0.35, 0.35]", "[0.35, 1e400]"), "params.layers.0.bias[1]", "too large for float64"),
    "float32-overflow-1e39": (lambda n: json.dumps(dict(SEED_DOC, id=n, dtype="float32")).replace("[0.6, 0.6]", "[0.6, 1e39]"),
                              "params.layers.1.bias[1]", "overflows float32"),
    "duplicate-key": (raw('"loss": "half_sse"', '"loss": "half_sse", "loss": "sse"'), "loss", "appears twice"),
    "non-utf8": (lambda n: "\udcff", "", "cannot read"),
    "unknown-top-field": (case(lossy=1), "lossy", "unknown field"),
    "unknown-format": (case(format="refbp-case/2"), "format", "unknown format 'refbp-case/2'"),
    "format-missing": (case(format=DROP), "format", "is required"),
    "id-missing": (lambda n: json.dumps({k: v for k, v in SEED_DOC.items() if k != "id"}), "id", "is required"),
    "id-pattern": (lambda n: json.dumps(dict(SEED_DOC, id="Id-Pattern")), "id", "must match"),
    "id-not-file-name": (lambda n: json.dumps(dict(SEED_DOC, id="another-name")), "id", "differs from the file name"),
    "network-missing": (case(network=DROP), "network", "is required"),
    "network-kind-unknown": (case(network__kind="cnn"), "network.kind", "unknown network kind 'cnn'"),
    "network-sizes-missing": (case(network__sizes=DROP), "network.sizes", "is required"),
    "network-sizes-too-short": (case(network__sizes=[2]), "network.sizes", "at least 2 entries"),
    "layer-size-zero": (case(network__sizes=[2, 0, 2]), "network.sizes[1]", "0 is outside [1, 65536]"),
    "layer-size-1e9": (case(network__sizes=[2, 10**9, 2]), "network.sizes[1]", "is outside [1, 65536]"),
    "layer-size-401-digits": (case(network__sizes=[2, 10**400, 2]), "network.sizes[1]",
                              "a 401-digit number is outside [1, 65536]"),
    "layer-size-string": (case(network__sizes=[2, "2", 2]), "network.sizes[1]", "must be a whole number, not a string"),
    "layer-size-fraction": (case(network__sizes=[2, 1.5, 2]), "network.sizes[1]", "must be a whole number"),
    "activation-count": (case(network__activations=["sigmoid"]), "network.activations", "one activation per layer"),
    "activation-unknown": (case(network__activations=["sigmoid", "swish"]), "network.activations[1]",
                           "unknown activation 'swish'"),
    "softmax-hidden": (case(network__activations=["softmax", "sigmoid"]), "network.activations[0]", "output layer only"),
    "network-unknown-field": (case(network__depth=2), "network.depth", "unknown field"),
    "loss-unknown": (case(loss="hinge"), "loss", "unknown loss 'hinge'"),
    "ce-needs-logits": (case(loss="cross_entropy", expected=DROP), "loss", "output activation must be identity"),
    "bce-needs-sigmoid": (case(loss="bce", network__activations=["sigmoid", "tanh"], expected=DROP), "loss",
                          "sigmoid output"),
    "param-missing": (case(params__layers_DOT_1_DOT_bias=DROP), "params.layers.1.bias", "is missing"),
    "param-unknown": (case(params__layers_DOT_2_DOT_weight=[[1.0]]), "params.layers.2.weight", "unknown parameter"),
    "param-wrong-shape": (case(**{W0: [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]]}), "params.layers.0.weight",
                          "shape [2, 3] does not match the expected shape [2, 2]"),
    "param-transposed-ragged": (case(**{W0: [[0.1, 0.2], [0.3]]}), "params.layers.0.weight[1]", "ragged"),
    "param-entry-string": (case(**{W0: [[0.1, "x"], [0.3, 0.4]]}), "params.layers.0.weight[0][1]", "must be a number"),
    "param-entry-null": (case(**{W0: [[0.1, None], [0.3, 0.4]]}), "params.layers.0.weight[0][1]", "not null"),
    "param-empty": (case(**{W0: []}), "params.layers.0.weight", "must not be empty"),
    "param-scalar": (case(**{W0: 0.5}), "params.layers.0.weight", "must be a list"),
    "init-beside-tensors": (case(base=CE_DOC, params__layers_DOT_0_DOT_weight=[[1.0]]), "params.layers.0.weight",
                            "unknown field"),
    "init-scheme-unknown": (case(base=CE_DOC, params__init__scheme="he"), "params.init.scheme", "unknown init scheme"),
    "init-seed-negative": (case(base=CE_DOC, params__init__seed=-1), "params.init.seed", "outside"),
    "init-scale-zero": (case(base=CE_DOC, params__init__scale=0), "params.init.scale", "outside (0"),
    "inputs-wrong-width": (case(inputs=[[0.05, 0.1, 0.2]]), "inputs", "does not match the expected shape [B, 2]"),
    "inputs-random-classes": (case(inputs={"random": {"seed": 1, "distribution": "classes", "batch": 2}}),
                              "inputs.random.distribution", "normal or uniform"),
    "inputs-random-no-batch": (case(inputs={"random": {"seed": 1, "distribution": "normal"}}), "inputs.random.batch",
                               "is required"),
    "inputs-random-typo": (case(inputs={"random": {"seed": 1, "distribution": "normal", "batch": 1, "mean_": 1}}),
                           "inputs.random.mean_", "unknown field"),
    "targets-wrong-shape": (case(targets=[[0.01, 0.99, 0.5]]), "targets", "shape [1, 3]"),
    "bce-target-outside": (case(loss="bce", targets=[[0.5, 1.5]], expected=DROP), "targets", "[0, 1]"),
    "class-index-outside": (case(base=CE_DOC, targets=[0, 3]), "targets[1]", "class index 3 is outside [0, 2]"),
    "class-index-fraction": (case(base=CE_DOC, targets=[0, 1.5]), "targets[1]", "class index 1.5 is not a whole number"),
    "class-probabilities-sum": (case(base=CE_DOC, targets=[[0.5, 0.5, 0.5], [1.0, 0.0, 0.0]]), "targets", "sum to 1"),
    "random-classes-with-mse": (case(targets={"random": {"seed": 1, "distribution": "classes"}}),
                                "targets.random.distribution", "cross_entropy only"),
    "random-targets-with-batch": (case(targets={"random": {"seed": 1, "distribution": "normal", "batch": 3}}),
                                  "targets.random.batch", "taken from the inputs"),
    "random-low-above-high": (case(targets={"random": {"seed": 1, "distribution": "uniform", "low": 2, "high": 1}}),
                              "targets.random.low", "must not exceed high"),
    "h0-in-mlp": (case(h0=[[0.0, 0.0]]), "h0", "only an RNN case"),
    "optimizer-unknown": (case(train__optimizer="rmsprop"), "train.optimizer", "unknown optimizer 'rmsprop'"),
    "lr-negative": (case(train__lr=-1), "train.lr", "-1 is outside (0"),
    "betas-with-sgd": (case(train__betas=[0.9, 0.99]), "train.betas", "unknown field"),
    "frozen-unknown": (case(train__frozen=["layers.9.bias"]), "train.frozen[0]", "unknown parameter 'layers.9.bias'"),
    "every-parameter-frozen": (case(train__frozen=ALL_PARAMS), "train.frozen", "every parameter is frozen"),
    "frozen-twice": (case(train__frozen=["layers.0.bias", "layers.0.bias"]), "train.frozen", "names an entry twice"),
    "train-steps-zero": (case(train__steps=0), "train.steps", "0 is outside [1, 100000]"),
    "momentum-two": (case(train__momentum=2), "train.momentum", "outside [0, 1]"),
    "adam-beta-one": (case(train={"optimizer": "adam", "lr": 0.1, "betas": [0.9, 1.0]}), "train.betas[1]",
                      "outside [0, 1)"),
    "alias-outside": (case(aliases__w9="layers.1.weight[2][0]"), "aliases.w9", "outside"),
    "alias-not-an-entry": (case(aliases__w9="layers.1.weight(0)"), "aliases.w9", "not of the form"),
    "tolerance-negative": (case(tolerance={"atol": -1, "rtol": 0}), "tolerance.atol", "outside"),
    "expected-unknown-tensor": (case(expected__grads__bogus=[[1.0]]), "expected.grads.bogus", "unknown tensor"),
    "expected-wrong-shape": (case(expected__grads__layers_DOT_0_DOT_weight=[[1.0]]), "expected.grads.layers.0.weight",
                             "shape [1, 1]"),
    "expected-after-without-train": (case(train=DROP), "expected.params_after", "without train"),
    "expected-no-tolerance": (case(expected__tolerance=DROP), "expected.tolerance", "is required"),
    "dtype-unknown": (case(dtype="float16"), "dtype", "unknown dtype 'float16'"),
    "tags-not-a-list": (case(tags="mlp"), "tags", "must be a list, not a string"),
    "title-a-number": (case(title=3), "title", "must be a string, not a number"),
    "rnn-truncate-zero": (case(base=RNN_DOC, network__truncate=0), "network.truncate", "outside [1, 10000]"),
    "rnn-random-inputs-no-steps": (case(base=RNN_DOC, inputs={"random": {"seed": 1, "distribution": "normal", "batch": 2}}),
                                   "inputs.random.steps", "is required"),
    "rnn-h0-wrong-shape": (case(base=RNN_DOC, h0=[[0.1, 0.2]]), "h0", "shape [1, 2] does not match the expected shape [1, 1]"),
    "rnn-nonlinearity-unknown": (case(base=RNN_DOC, network__nonlinearity="sigmoid"), "network.nonlinearity",
                                 "unknown nonlinearity"),
}


def assert_one_bad_line(outcome, kind: str, field: str, words: str):
    """Exit 2, no traceback, exactly one stderr line naming the file (and field), and the seed still passed."""
    code, out, err = outcome
    assert code == 2, out + err
    assert "Traceback" not in out + err
    [line] = err.splitlines()
    assert f"{kind}.json: " in line and words in line, line
    if field:
        assert f".json: {field}: " in line, line
    assert len(line) < 400
    assert "PASS  seed-2-2-2" in out  # the good case beside it was still checked


@pytest.mark.parametrize("kind", sorted(CASE_KINDS))
def test_bad_case_file_through_run(tmp_path, capsys, kind):
    build, field, words = CASE_KINDS[kind]
    folder = tmp_path / "cases"
    folder.mkdir()
    shutil.copy(SEED, folder)
    text = build(kind)
    (folder / f"{kind}.json").write_bytes(text.encode("utf-8", "surrogateescape"))
    outcome = cli(capsys, "run", folder, "--no-report", "--no-progress", "--oracle", "expected")
    assert_one_bad_line(outcome, kind, field, words)


@pytest.mark.parametrize("kind", ["nested-1200-deep", "nan-literal", "activation-unknown", "every-parameter-frozen"])
def test_bad_case_file_through_explain(tmp_path, capsys, kind):
    build, field, words = CASE_KINDS[kind]
    path = tmp_path / f"{kind}.json"
    path.write_text(build(kind))
    code, out, err = cli(capsys, "explain", path, "--param", "w1")
    assert code == 2 and "Traceback" not in out + err
    [line] = err.splitlines()
    assert f"{kind}.json: {field}" in line and words in line, line


def test_deep_nesting_in_cases_and_cases_list(tmp_path, capsys):
    deep = tmp_path / "deep.json"
    deep.write_text(DEEP)
    for argv in (["cases", "list", deep, SEED], ["verify", tmp_path / "none.json", "--cases", deep, "--no-report"],
                 ["run", deep, SEED, "--report-dir", tmp_path / "reports", "--no-progress", "--oracle", "expected"]):
        code, out, err = cli(capsys, *argv)
        assert code == 2 and "Traceback" not in out + err
        assert "deep.json: nested 1200 levels deep" in err


# ---- results (verify) -------------------------------------------------------------------
OTHER = "mlp-depth1-identity-b1"  # the case the bad results name; the good result is for the seed
UNTRAINED = "rnn-t1-tanh-mse"
GOOD_RESULT = {"format": "refbp-result/1", "case": "seed-2-2-2", "implementation": "good",
               "outputs": [[0.75136507, 0.772928465]], "loss": 0.298371109}
BASE_RESULT = {"format": "refbp-result/1", "case": OTHER, "implementation": "bad", "loss": 0.5,
               "grads": {"layers.0.weight": [[0.1, 0.2, 0.3]]}}


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
    "result-unknown-parameter": (result(grads__layers_DOT_5_DOT_weight=[[1.0]]), "grads.layers.5.weight",
                                 "unknown parameter"),
    "result-entry-string": (result(grads__layers_DOT_0_DOT_weight=[[0.1, "x", 0.3]]), "grads.layers.0.weight[0][1]",
                            "must be a number or null, not a string"),
    "result-grads-a-list": (result(grads=[1.0]), "grads", "must be an object"),
    "result-after-without-train": (result(case=UNTRAINED, grads=DROP, loss_after=0.1), "loss_after",
                                   "has no training"),
    "result-implementation-number": (result(implementation=3), "implementation", "must be a string"),
    "result-duplicate-key": (lambda n: json.dumps(BASE_RESULT).replace('"loss": 0.5', '"loss": 0.5, "loss": 0.4'),
                             "loss", "appears twice"),
    "bundle-empty": (result_text('{"format": "refbp-results/1", "results": []}'), "results", "must not be empty"),
    "bundle-unknown-field-inside": (lambda n: json.dumps({"format": "refbp-results/1", "results": [
        BASE_RESULT, dict(BASE_RESULT, case="seed-2-2-2", lss=1)]}), "results[1].lss", "unknown field"),
    "bundle-unknown-field": (result_text('{"format": "refbp-results/1", "results": [{"case": "x"}], "x": 1}'), "x",
                             "unknown field"),
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
    outcome = cli(capsys, "verify", bad, "--cases", cases, tmp_path / "good.json", "--no-report", "--oracle", "expected")
    assert_one_bad_line(outcome, kind, field, words)


def test_a_second_result_for_one_case_names_both(tmp_path, capsys):
    cases = verify_folder(tmp_path)
    (tmp_path / "again.json").write_text(json.dumps(dict(GOOD_RESULT, loss=0.3)))
    code, out, err = cli(capsys, "verify", "--cases", cases, tmp_path / "good.json", tmp_path / "again.json",
                         "--no-report", "--oracle", "expected")
    assert code == 2
    [line] = err.splitlines()
    assert "again.json: case: a second result for 'seed-2-2-2' (the first: " in line and "good.json" in line
    assert "PASS  seed-2-2-2" in out


# ---- paths and options --------------------------------------------------------------------
def test_conflicting_duplicate_id_is_bad_input_naming_both(tmp_path, capsys):
    for folder, loss in (("a", "half_sse"), ("b", "sse")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "twin.json").write_text(case(loss=loss, expected=DROP)("twin"))
    shutil.copy(SEED, tmp_path / "a")
    code, out, err = cli(capsys, "run", tmp_path / "a", tmp_path / "b", "--no-report", "--no-progress",
                         "--oracle", "expected")
    assert code == 2
    lines = [line for line in err.splitlines() if "twin.json" in line]
    assert len(lines) == 2  # the first has nothing to check with --oracle expected; the second is the duplicate
    assert any(f"b{os.sep}twin.json: id: 'twin' is already used by " in line and f"a{os.sep}twin.json" in line
               for line in lines)


def test_the_same_case_twice_is_checked_once_with_a_note(tmp_path, capsys):
    assert cli(capsys, "cases", "export", tmp_path / "my-cases", SEED)[0] == 0
    code, out, err = cli(capsys, "run", SEED, tmp_path / "my-cases", "--no-report", "--no-progress")
    assert code == 0 and out.count("PASS  seed-2-2-2") == 1
    [note] = err.splitlines()
    assert note.startswith("refbp: note: ") and "the same case as" in note


def test_a_path_that_is_not_a_file(tmp_path, capsys):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    code, out, err = cli(capsys, "run", fifo, SEED, "--no-report", "--no-progress", "--oracle", "expected")
    assert code == 2 and err.splitlines() == [f"{fifo}: is not a regular file"]
    assert "PASS  seed-2-2-2" in out


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
    assert "PASS  seed-2-2-2" in out


USAGE_KINDS = {
    "run-report-dir-is-a-file": (["run", SEED, "--report-dir", "{file}"], "--report-dir {file}: is a file"),
    "verify-report-dir-is-a-file": (["verify", "{good}", "--report-dir", "{file}"], "--report-dir {file}: is a file"),
    "export-dir-is-a-file": (["cases", "export", "{file}", SEED], "{file}: is a file, not a folder"),
    "verify-complex-step": (["verify", "--fd-method", "complex", "{good}"], "--fd-method complex: the torch reference"),
    "run-empty-folder": (["run", "{empty}", "--report-dir", "{tmp}/reports"],
                         "refbp: error: nothing to check: no file found in {empty}"),
    "run-report-dir-under-a-file": (["run", SEED, "--report-dir", "{file}/reports"], "{file} is a file, not a folder"),
    "run-no-reference-applies": (["run", "--oracle", "expected", SUITE_DIR / "mlp" / f"{OTHER}.json", "--no-report"],
                                 f"{OTHER}.json: --oracle expected: nothing to check"),
    "verify-empty-folder": (["verify", "{empty}", "--report-dir", "{tmp}/reports"],
                            "nothing to check: no file found in {empty}"),
    "run-unknown-oracle": (["run", "--oracle", "torch,magic"], "unknown reference magic"),
    "run-no-such-path": (["run", "{tmp}/no-such-folder"], "no such file or folder"),
}


@pytest.mark.parametrize("kind", sorted(USAGE_KINDS))
def test_usage_refused_in_one_line_and_nothing_half_written(tmp_path, capsys, kind):
    argv, words = USAGE_KINDS[kind]
    places = {"file": tmp_path / "README.md", "good": tmp_path / "good.json", "empty": tmp_path / "empty",
              "tmp": tmp_path}
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
    "params-3.6e9": (case(base=CE_DOC, network__sizes=[2, 60000, 60000, 3],
                          network__activations=["relu", "relu", "identity"]), "network", "more than the limit"),
    "random-inputs-4e9": (case(base=CE_DOC, network__sizes=[65536, 3],
                               inputs={"random": {"seed": 1, "distribution": "normal", "batch": 65536}}),
                          "inputs.random", "more than the limit"),
    "rnn-random-inputs-6.5e8": (case(base=RNN_DOC, network__input_size=1000,
                                     inputs={"random": {"seed": 1, "distribution": "normal", "batch": 65536,
                                                        "steps": 10000}}), "inputs.random", "more than the limit"),
    "rnn-random-targets-6.5e8": (case(base=RNN_DOC, network__output_size=1000, targets={"random": {
        "seed": 1, "distribution": "normal"}}, inputs={"random": {"seed": 1, "distribution": "normal", "batch": 65536,
                                                                  "steps": 10000}}), "", "more than the limit"),
    "batch-1e12": (case(base=CE_DOC, inputs={"random": {"seed": 1, "distribution": "normal", "batch": 10**12}}),
                   "inputs.random.batch", "outside [1, 65536]"),
}


@pytest.mark.parametrize("kind", sorted(ABSURD))
def test_absurd_sizes_are_refused_before_allocation(tmp_path, capsys, kind):
    build, field, words = ABSURD[kind]
    path = tmp_path / f"{kind}.json"
    path.write_text(build(kind))
    tracemalloc.start()
    try:
        code, out, err = cli(capsys, "run", path, "--no-report", "--no-progress", "--oracle", "expected")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert code == 2
    [line] = err.splitlines()
    assert f"{kind}.json: {field}" in line and words in line, line
    assert peak < 32 * MiB, f"{peak / MiB:.0f} MiB allocated before the refusal"


# ---- wrong answers are failed checks, not bad input -------------------------------------
WRONG = {
    "transposed": ({"grads": {"layers.0.weight": [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]]}}, "layers.0.weight",
                   "shape [3, 2] where the case has [2, 3]"),
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
    code, out, err = cli(capsys, "verify", path, "--no-report", "--oracle", "torch", "--json")
    [verdict] = json.loads(out)
    assert code == 1 and not verdict["errors"] and not verdict["passed"]
    failed = [c for c in verdict["checks"] if not c["passed"]]
    assert [c["tensor"] for c in failed] == [tensor] and note in failed[0]["note"]
