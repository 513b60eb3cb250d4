"""Loading validates everything and names file, field and problem in one line."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from helpers import write_case
from refbp.cases import SUITE_DIR, CaseError, discover, load_case, parse_case
from refbp.cases.export import explicit_document


def error_of(tmp_path, document, name=None, raw: str | None = None) -> CaseError:
    path = tmp_path / f"{name or document.get('id', 'x')}.json"
    path.write_text(raw if raw is not None else json.dumps(document))
    with pytest.raises(CaseError) as info:
        load_case(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    return info.value


def test_the_whole_suite_loads():
    files = discover([SUITE_DIR])
    assert len(files) >= 21
    ids = [load_case(f).id for f in files]
    assert len(ids) == len(set(ids))


def test_suite_covers_every_activation_loss_and_range():
    mlps = [c for c in (load_case(f) for f in discover([SUITE_DIR])) if c.network.kind == "mlp"]
    generated = [c for c in mlps if "init" in c.document["params"]]
    assert len(generated) >= 20
    assert {a for c in mlps for a in c.network.activations} == {
        "identity",
        "sigmoid",
        "tanh",
        "relu",
        "leaky_relu",
        "elu",
        "softplus",
        "softmax",
    }
    assert {c.loss for c in mlps} == {"half_sse", "sse", "mse", "cross_entropy", "bce"}
    assert min(c.batch for c in mlps) == 1 and max(c.batch for c in mlps) == 64
    assert min(c.network.depth for c in mlps) == 1 and max(c.network.depth for c in mlps) == 4
    assert any(c.train and c.train.optimizer == "sgd" and c.train.momentum for c in mlps)
    assert any(c.train and c.train.optimizer == "adam" for c in mlps)
    assert any(c.dtype == "float32" for c in mlps)
    assert any(c.class_targets for c in mlps if c.loss == "cross_entropy")
    assert any(not c.class_targets for c in mlps if c.loss == "cross_entropy")


def test_generated_parts_are_deterministic_and_export_round_trips(tmp_path):
    path = SUITE_DIR / "mlp" / "mlp-xavier-relu-ce-b64.json"
    a, b = load_case(path), load_case(path)
    for name in a.params:
        np.testing.assert_array_equal(a.params[name], b.params[name])
    exported = write_case(tmp_path, explicit_document(a))
    c = load_case(exported)
    for name in a.params:
        np.testing.assert_array_equal(a.params[name], c.params[name])
    np.testing.assert_array_equal(a.inputs, c.inputs)
    np.testing.assert_array_equal(a.targets, c.targets)


def test_malformed_json(tmp_path):
    err = error_of(tmp_path, {}, name="broken", raw='{"format": "refbp-case/1", "id": ')
    assert "invalid JSON at line 1" in str(err)


def test_nan_literal_is_refused(tmp_path, seed_document):
    raw = json.dumps(seed_document).replace("[[0.05, 0.1]]", "[[NaN, 0.1]]")
    assert "NaN" in raw
    err = error_of(tmp_path, seed_document, raw=raw)
    assert "NaN is not allowed" in str(err)


@pytest.mark.parametrize(
    "mutate, field, words",
    [
        (
            lambda d: d["network"]["activations"].__setitem__(1, "swish"),
            "network.activations[1]",
            "unknown activation 'swish'",
        ),
        (
            lambda d: d["params"].__setitem__("layers.0.weight", [[0.15, 0.2, 0.3], [0.25, 0.3, 0.1]]),
            "params.layers.0.weight",
            "shape [2, 3] does not match the expected shape [2, 2]",
        ),
        (lambda d: d["params"].pop("layers.1.bias"), "params.layers.1.bias", "is missing"),
        (lambda d: d["params"].__setitem__("layers.2.weight", [[1.0]]), "params.layers.2.weight", "unknown parameter"),
        (lambda d: d.__setitem__("lossy", "x"), "lossy", "unknown field"),
        (lambda d: d.__setitem__("format", "refbp-case/2"), "format", "unknown format"),
        (lambda d: d.__setitem__("loss", "hinge"), "loss", "unknown loss 'hinge'"),
        (lambda d: d["network"].__setitem__("sizes", [2, 10**9, 2]), "network.sizes[1]", "outside [1, 65536]"),
        (
            lambda d: d["network"].update(sizes=[2, 60000, 60000, 2], activations=["relu", "relu", "sigmoid"]),
            "network",
            "more than the limit",
        ),
        (lambda d: d.__setitem__("inputs", [[0.05, "x"]]), "inputs[0][1]", "must be a number"),
        (lambda d: d.__setitem__("inputs", [[0.05, 0.1], [0.2]]), "inputs[1]", "ragged"),
        (lambda d: d.__setitem__("targets", [[0.01, 0.99, 0.5]]), "targets", "shape [1, 3]"),
        (lambda d: d["train"].__setitem__("optimizer", "rmsprop"), "train.optimizer", "unknown optimizer"),
        (lambda d: d["train"].__setitem__("lr", -1), "train.lr", "outside"),
        (lambda d: d["train"].__setitem__("frozen", ["layers.9.bias"]), "train.frozen[0]", "unknown parameter"),
        (lambda d: d["train"].__setitem__("betas", [0.9, 0.99]), "train.betas", "unknown field"),
        (lambda d: d["aliases"].__setitem__("w9", "layers.1.weight[2][0]"), "aliases.w9", "outside"),
        (
            lambda d: d["expected"]["grads"].__setitem__("layers.0.weight", [[1.0]]),
            "expected.grads.layers.0.weight",
            "shape",
        ),
        (lambda d: d.__setitem__("id", "Seed"), "id", "must match"),
        (lambda d: d.__setitem__("dtype", "float8"), "dtype", "unknown dtype"),  # float16 is a dtype now
        (
            lambda d: d["network"].__setitem__("activations", ["softmax", "sigmoid"]),
            "network.activations[0]",
            "output layer only",
        ),
    ],
)
def test_bad_fields_are_named(tmp_path, seed_document, mutate, field, words):
    document = copy.deepcopy(seed_document)
    mutate(document)
    err = error_of(tmp_path, document, name="seed-2-2-2" if document["id"] == "seed-2-2-2" else document["id"])
    assert err.field == field, str(err)
    assert words in err.problem, str(err)


def test_id_must_equal_file_stem(tmp_path, seed_document):
    err = error_of(tmp_path, seed_document, name="other-name")
    assert err.field == "id" and "differs from the file name" in err.problem


def test_loss_and_output_activation_must_fit(seed_document):
    seed_document["loss"] = "cross_entropy"
    with pytest.raises(CaseError, match="output activation must be identity"):
        parse_case(seed_document)
    seed_document["loss"] = "bce"
    seed_document["network"]["activations"][-1] = "tanh"
    with pytest.raises(CaseError, match="sigmoid output"):
        parse_case(seed_document)


def test_class_targets_are_checked():
    document = {
        "format": "refbp-case/1",
        "id": "ce",
        "network": {"kind": "mlp", "sizes": [2, 3], "activations": ["identity"]},
        "loss": "cross_entropy",
        "params": {"init": {"scheme": "normal", "seed": 1}},
        "inputs": [[0.1, 0.2], [0.3, 0.4]],
        "targets": [0, 3],
    }
    with pytest.raises(CaseError) as info:
        parse_case(document)
    assert info.value.field == "targets[1]" and "outside [0, 2]" in info.value.problem
    document["targets"] = [0, 2]
    case = parse_case(document)
    assert case.class_targets and case.targets.tolist() == [0, 2]


def test_nulls_only_in_expected(seed_document):
    case = parse_case(seed_document)
    assert np.isnan(case.expected.intermediates["layers.0.net"][0, 1])
    seed_document["inputs"] = [[0.05, None]]
    with pytest.raises(CaseError, match="must be a number"):
        parse_case(seed_document)


def test_a_class_index_written_as_a_float_is_that_index():
    """JSON Schema counts 1.0 as a whole number: the targets' shape [B] says they are class indices."""
    document = {
        "format": "refbp-case/1",
        "id": "ce",
        "network": {"kind": "mlp", "sizes": [2, 3], "activations": ["identity"]},
        "loss": "cross_entropy",
        "params": {"init": {"scheme": "normal", "seed": 1.0}},
        "inputs": [[0.1, 0.2], [0.3, 0.4]],
        "targets": [0, 1.0],
    }
    case = parse_case(document)
    assert case.class_targets and case.targets.tolist() == [0, 1]
    document["targets"] = [0, 1.5]
    with pytest.raises(CaseError) as info:
        parse_case(document)
    assert info.value.field == "targets[1]" and "class index 1.5 is not a whole number" in info.value.problem


def test_a_number_the_dtype_cannot_hold(seed_document):
    seed_document["dtype"] = "float32"
    seed_document["inputs"] = [[0.05, 1e39]]
    with pytest.raises(CaseError) as info:
        parse_case(seed_document)
    assert info.value.field == "inputs[0][1]" and "overflows float32" in info.value.problem
    seed_document["dtype"] = "float64"
    assert parse_case(seed_document).inputs[0, 1] == 1e39


def test_nesting_is_measured_before_parsing(tmp_path):
    from refbp.cases.jsonio import MAX_NESTING

    path = tmp_path / "deep.json"
    path.write_text("[" * (MAX_NESTING + 1) + "]" * (MAX_NESTING + 1))
    with pytest.raises(CaseError, match="nested 33 levels deep"):
        load_case(path)
    path.write_text(json.dumps({"format": "refbp-case/1", "title": "[" * 5000}))  # brackets inside a string
    with pytest.raises(CaseError) as info:
        load_case(path)
    assert info.value.field == "id" and info.value.problem == "is required"
