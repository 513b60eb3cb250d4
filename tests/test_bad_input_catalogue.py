"""The catalogue of bad input, case files: every kind through `run` (and some through
`explain` and `cases list`), in process.

Each kind must give exit code 2, exactly one line on stderr naming the file and the field
(and no traceback), while the good case beside it is still checked. Result files, usage,
absurd sizes and wrong answers: tests/test_bad_input_results.py.
"""

from __future__ import annotations

import json
import shutil

import pytest

from bad_input import ALL_PARAMS, CE_DOC, DEEP, DROP, RNN_DOC, SEED, SEED_DOC, assert_one_bad_line, case, cli, raw

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
    "float64-overflow-1e400": (
        raw("[0.35, 0.35]", "[0.35, 1e400]"),
        "params.layers.0.bias[1]",
        "too large for float64",
    ),
    "float32-overflow-1e39": (
        lambda n: json.dumps(dict(SEED_DOC, id=n, dtype="float32")).replace("[0.6, 0.6]", "[0.6, 1e39]"),
        "params.layers.1.bias[1]",
        "overflows float32",
    ),
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
    "layer-size-401-digits": (
        case(network__sizes=[2, 10**400, 2]),
        "network.sizes[1]",
        "a 401-digit number is outside [1, 65536]",
    ),
    "layer-size-string": (case(network__sizes=[2, "2", 2]), "network.sizes[1]", "must be a whole number, not a string"),
    "layer-size-fraction": (case(network__sizes=[2, 1.5, 2]), "network.sizes[1]", "must be a whole number"),
    "activation-count": (case(network__activations=["sigmoid"]), "network.activations", "one activation per layer"),
    "activation-unknown": (
        case(network__activations=["sigmoid", "swish"]),
        "network.activations[1]",
        "unknown activation 'swish'",
    ),
    "softmax-hidden": (
        case(network__activations=["softmax", "sigmoid"]),
        "network.activations[0]",
        "output layer only",
    ),
    "network-unknown-field": (case(network__depth=2), "network.depth", "unknown field"),
    "loss-unknown": (case(loss="hinge"), "loss", "unknown loss 'hinge'"),
    "ce-needs-logits": (case(loss="cross_entropy", expected=DROP), "loss", "output activation must be identity"),
    "bce-needs-sigmoid": (
        case(loss="bce", network__activations=["sigmoid", "tanh"], expected=DROP),
        "loss",
        "sigmoid output",
    ),
    "param-missing": (case(params__layers_DOT_1_DOT_bias=DROP), "params.layers.1.bias", "is missing"),
    "param-unknown": (case(params__layers_DOT_2_DOT_weight=[[1.0]]), "params.layers.2.weight", "unknown parameter"),
    "param-wrong-shape": (
        case(**{W0: [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]]}),
        "params.layers.0.weight",
        "shape [2, 3] does not match the expected shape [2, 2]",
    ),
    "param-transposed-ragged": (case(**{W0: [[0.1, 0.2], [0.3]]}), "params.layers.0.weight[1]", "ragged"),
    "param-entry-string": (case(**{W0: [[0.1, "x"], [0.3, 0.4]]}), "params.layers.0.weight[0][1]", "must be a number"),
    "param-entry-null": (case(**{W0: [[0.1, None], [0.3, 0.4]]}), "params.layers.0.weight[0][1]", "not null"),
    "param-empty": (case(**{W0: []}), "params.layers.0.weight", "must not be empty"),
    "param-scalar": (case(**{W0: 0.5}), "params.layers.0.weight", "must be a list"),
    "init-beside-tensors": (
        case(base=CE_DOC, params__layers_DOT_0_DOT_weight=[[1.0]]),
        "params.layers.0.weight",
        "unknown field",
    ),
    "init-scheme-unknown": (case(base=CE_DOC, params__init__scheme="he"), "params.init.scheme", "unknown init scheme"),
    "init-seed-negative": (case(base=CE_DOC, params__init__seed=-1), "params.init.seed", "outside"),
    "init-scale-zero": (case(base=CE_DOC, params__init__scale=0), "params.init.scale", "outside (0"),
    "inputs-wrong-width": (case(inputs=[[0.05, 0.1, 0.2]]), "inputs", "does not match the expected shape [B, 2]"),
    "inputs-random-classes": (
        case(inputs={"random": {"seed": 1, "distribution": "classes", "batch": 2}}),
        "inputs.random.distribution",
        "normal or uniform",
    ),
    "inputs-random-no-batch": (
        case(inputs={"random": {"seed": 1, "distribution": "normal"}}),
        "inputs.random.batch",
        "is required",
    ),
    "inputs-random-typo": (
        case(inputs={"random": {"seed": 1, "distribution": "normal", "batch": 1, "mean_": 1}}),
        "inputs.random.mean_",
        "unknown field",
    ),
    "targets-wrong-shape": (case(targets=[[0.01, 0.99, 0.5]]), "targets", "shape [1, 3]"),
    "bce-target-outside": (case(loss="bce", targets=[[0.5, 1.5]], expected=DROP), "targets", "[0, 1]"),
    "class-index-outside": (case(base=CE_DOC, targets=[0, 3]), "targets[1]", "class index 3 is outside [0, 2]"),
    "class-index-fraction": (
        case(base=CE_DOC, targets=[0, 1.5]),
        "targets[1]",
        "class index 1.5 is not a whole number",
    ),
    "class-probabilities-sum": (case(base=CE_DOC, targets=[[0.5, 0.5, 0.5], [1.0, 0.0, 0.0]]), "targets", "sum to 1"),
    "random-classes-with-mse": (
        case(targets={"random": {"seed": 1, "distribution": "classes"}}),
        "targets.random.distribution",
        "cross_entropy only",
    ),
    "random-targets-with-batch": (
        case(targets={"random": {"seed": 1, "distribution": "normal", "batch": 3}}),
        "targets.random.batch",
        "taken from the inputs",
    ),
    "random-low-above-high": (
        case(targets={"random": {"seed": 1, "distribution": "uniform", "low": 2, "high": 1}}),
        "targets.random.low",
        "must not exceed high",
    ),
    "h0-in-mlp": (case(h0=[[0.0, 0.0]]), "h0", "only an RNN case"),
    "optimizer-unknown": (case(train__optimizer="rmsprop"), "train.optimizer", "unknown optimizer 'rmsprop'"),
    "lr-negative": (case(train__lr=-1), "train.lr", "-1 is outside (0"),
    "betas-with-sgd": (case(train__betas=[0.9, 0.99]), "train.betas", "unknown field"),
    "frozen-unknown": (case(train__frozen=["layers.9.bias"]), "train.frozen[0]", "unknown parameter 'layers.9.bias'"),
    "every-parameter-frozen": (case(train__frozen=ALL_PARAMS), "train.frozen", "every parameter is frozen"),
    "frozen-twice": (case(train__frozen=["layers.0.bias", "layers.0.bias"]), "train.frozen", "names an entry twice"),
    "train-steps-zero": (case(train__steps=0), "train.steps", "0 is outside [1, 100000]"),
    "momentum-two": (case(train__momentum=2), "train.momentum", "outside [0, 1]"),
    "adam-beta-one": (
        case(train={"optimizer": "adam", "lr": 0.1, "betas": [0.9, 1.0]}),
        "train.betas[1]",
        "outside [0, 1)",
    ),
    "alias-outside": (case(aliases__w9="layers.1.weight[2][0]"), "aliases.w9", "outside"),
    "alias-not-an-entry": (case(aliases__w9="layers.1.weight(0)"), "aliases.w9", "not of the form"),
    "tolerance-negative": (case(tolerance={"atol": -1, "rtol": 0}), "tolerance.atol", "outside"),
    "expected-unknown-tensor": (case(expected__grads__bogus=[[1.0]]), "expected.grads.bogus", "unknown tensor"),
    "expected-wrong-shape": (
        case(expected__grads__layers_DOT_0_DOT_weight=[[1.0]]),
        "expected.grads.layers.0.weight",
        "shape [1, 1]",
    ),
    "expected-after-without-train": (case(train=DROP), "expected.params_after", "without train"),
    "expected-no-tolerance": (case(expected__tolerance=DROP), "expected.tolerance", "is required"),
    "dtype-unknown": (case(dtype="float8"), "dtype", "unknown dtype 'float8'"),
    "tags-not-a-list": (case(tags="mlp"), "tags", "must be a list, not a string"),
    "title-a-number": (case(title=3), "title", "must be a string, not a number"),
    "rnn-truncate-zero": (case(base=RNN_DOC, network__truncate=0), "network.truncate", "outside [1, 10000]"),
    "rnn-random-inputs-no-steps": (
        case(base=RNN_DOC, inputs={"random": {"seed": 1, "distribution": "normal", "batch": 2}}),
        "inputs.random.steps",
        "is required",
    ),
    "rnn-h0-wrong-shape": (
        case(base=RNN_DOC, h0=[[0.1, 0.2]]),
        "h0",
        "shape [1, 2] does not match the expected shape [1, 1]",
    ),
    "rnn-nonlinearity-unknown": (
        case(base=RNN_DOC, network__nonlinearity="sigmoid"),
        "network.nonlinearity",
        "unknown nonlinearity",
    ),
}


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
    for argv in (
        ["cases", "list", deep, SEED],
        ["verify", tmp_path / "none.json", "--cases", deep, "--no-report"],
        ["run", deep, SEED, "--report-dir", tmp_path / "reports", "--no-progress", "--oracle", "expected"],
    ):
        code, out, err = cli(capsys, *argv)
        assert code == 2 and "Traceback" not in out + err
        assert "deep.json: nested 1200 levels deep" in err


# ---- results (verify) -------------------------------------------------------------------
