"""The JSON Schemas of the formats: printed by `refbp schema`, written beside exported cases,
valid draft 2020-12, in step with refbp's table of names, and satisfied by every shipped
case, every exported case and every verdict refbp writes, by two validators: jsonschema
(which the loaders use) and jsonschema-rs (an independent implementation)."""

from __future__ import annotations

import json

import jsonschema
import jsonschema_rs
import pytest

from refbp import names
from refbp.cases import SUITE_DIR, discover
from refbp.cases.generate import DISTRIBUTIONS, INIT_SCHEMES
from refbp.cases.schema import SCHEMAS, schema_document
from refbp.cli import main
from refbp.nn import compute_trace

SEED = SUITE_DIR / "seed" / "seed-2-2-2.json"


def printed_schema(capsys, name: str) -> dict:
    assert main(["schema", name]) == 0
    return json.loads(capsys.readouterr().out)


def validators(schema: dict):
    """Both validators of one schema: each returns the list of its error messages for a document."""
    first = jsonschema.Draft202012Validator(schema)
    second = jsonschema_rs.Draft202012Validator(schema)
    return [lambda d: [e.message for e in first.iter_errors(d)], lambda d: [e.message for e in second.iter_errors(d)]]


def assert_valid(schema: dict, documents: list[dict]):
    for validate in validators(schema):
        for document in documents:
            assert validate(document) == [], document.get("id") or document.get("case")


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_every_schema_is_valid_draft_2020_12(capsys, name):
    schema = printed_schema(capsys, name)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert jsonschema_rs.meta.is_valid(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == SCHEMAS[name]


def test_every_shipped_case_validates(capsys):
    files = discover([SUITE_DIR])
    assert len(files) >= 40 and not any(f.name.endswith(".schema.json") for f in files)
    assert_valid(printed_schema(capsys, "case"), [json.loads(f.read_text()) for f in files])


def test_every_exported_case_validates_with_the_schema_written_beside(tmp_path, capsys):
    assert main(["cases", "export", str(tmp_path)]) == 0
    capsys.readouterr()
    beside = json.loads((tmp_path / "refbp-case-1.schema.json").read_text())
    assert beside == schema_document("case")
    every = [json.loads(p.read_text()) for p in sorted(tmp_path.glob("*.json")) if not p.name.endswith(".schema.json")]
    exported = [d for d in every if d["format"] == "refbp-case/1"]
    layers: list = []
    assert len(exported) == len(discover([SUITE_DIR], layer_files=layers))
    assert all(isinstance(d["params"], dict) and "init" not in d["params"] for d in exported)
    assert_valid(beside, exported)
    # the layer cases (docs/formats.md section 12) beside them, with their own schema
    layer_schema = json.loads((tmp_path / "refbp-layer-case-1.schema.json").read_text())
    assert layer_schema == schema_document("layer-case")
    assert len(every) - len(exported) == len(layers) > 0
    assert_valid(layer_schema, [d for d in every if d["format"] == "refbp-layer-case/1"])


def test_the_schemas_refuse_what_the_loader_refuses(capsys):
    """Teeth: each validator refuses a typo, an unknown name, a wrong type, a range, a missing field."""
    schema = printed_schema(capsys, "case")
    seed = json.loads(SEED.read_text())
    bad = [
        dict(seed, lossy=1),
        dict(seed, loss="hinge"),
        dict(seed, inputs=[[0.05, "x"]]),
        dict(seed, network=dict(seed["network"], sizes=[2, 0, 2])),
        {k: v for k, v in seed.items() if k != "params"},
        dict(seed, train=dict(seed["train"], betas=[0.9, 0.99])),
        dict(seed, inputs=[]),
    ]
    for validate in validators(schema):
        assert all(validate(document) for document in bad)


def test_the_names_in_the_schemas_are_refbps_table_of_names():
    case = schema_document("case")
    definitions = case["$defs"]
    assert definitions["activation"]["enum"] == list(names.ACTIVATIONS)
    assert case["properties"]["loss"]["enum"] == list(names.LOSSES)
    assert case["properties"]["dtype"]["enum"] == list(names.DTYPES)
    assert definitions["train"]["properties"]["optimizer"]["enum"] == list(names.OPTIMIZERS)
    assert definitions["rnn"]["properties"]["nonlinearity"]["enum"] == list(names.RNN_NONLINEARITIES)
    assert definitions["rnn"]["properties"]["readout"]["enum"] == list(names.RNN_READOUTS)
    assert definitions["network"]["properties"]["kind"]["enum"] == list(names.NETWORK_KINDS)
    assert definitions["init"]["properties"]["scheme"]["enum"] == list(INIT_SCHEMES)
    assert definitions["random"]["properties"]["distribution"]["enum"] == list(DISTRIBUTIONS)
    method = schema_document("verdict")["$defs"]["check"]["properties"]["method"]["enum"]
    assert method == ["", *names.FD_METHODS]


def result_of(path) -> dict:
    from refbp.cases import load_case

    case = load_case(path)
    trace = compute_trace(case)
    return {
        "format": "refbp-result/1",
        "case": case.id,
        "implementation": "test",
        "outputs": trace.outputs.tolist(),
        "loss": trace.loss,
        "grads": {k: v.tolist() for k, v in trace.grads.items()},
    }


def test_results_and_bundles_validate(capsys):
    results = [result_of(SEED), result_of(SUITE_DIR / "rnn" / "rnn-t1-tanh-mse.json")]
    assert_valid(printed_schema(capsys, "result"), results)
    bundle = {
        "format": "refbp-results/1",
        "implementation": "test",
        "results": [{k: v for k, v in r.items() if k != "format"} for r in results],
    }
    schema = printed_schema(capsys, "results")
    assert_valid(schema, [bundle])
    for validate in validators(schema):
        assert validate(dict(bundle, results=[dict(results[0], gradz={})]))


def test_every_verdict_refbp_writes_validates(tmp_path, capsys):
    """Passing, failing, wrong-answer, bad-input and nothing-to-check verdicts, from --json and verdicts.json."""
    cases = tmp_path / "cases"
    cases.mkdir()
    for path in (
        SEED,
        SUITE_DIR / "rnn" / "rnn-truncated-k5.json",
        SUITE_DIR / "mlp" / "mlp-relu-d3-mse-b16-adam.json",
    ):
        (cases / path.name).write_text(path.read_text())
    (cases / "broken.json").write_text("{")
    verdicts = []
    main(["run", str(cases), "--json", "--report-dir", str(tmp_path / "reports"), "--no-progress"])
    verdicts += json.loads(capsys.readouterr().out)
    [report] = (tmp_path / "reports").iterdir()
    verdicts += json.loads((report / "verdicts.json").read_text())
    wrong = result_of(SEED)
    wrong["grads"]["layers.0.weight"] = [[1.0]]
    wrong["loss"] = None
    (tmp_path / "wrong.json").write_text(json.dumps(wrong))
    (tmp_path / "empty.json").write_text(json.dumps({"format": "refbp-result/1", "case": "seed-2-2-2"}))
    (tmp_path / "right.json").write_text(json.dumps(result_of(SEED)))
    for result in ("wrong.json", "empty.json", "right.json"):
        main(["verify", str(tmp_path / result), "--json", "--no-report", "--fd-method", "directional"])
        verdicts += json.loads(capsys.readouterr().out)
    main(["run", "--oracle", "expected", str(SUITE_DIR / "mlp" / "mlp-bce-b12-adam.json"), "--json", "--no-report"])
    verdicts += json.loads(capsys.readouterr().out)
    assert {v["passed"] for v in verdicts} == {True, False} and any(v["errors"] for v in verdicts)
    assert any(c["method"] == "directional" for v in verdicts for c in v["checks"])
    assert_valid(printed_schema(capsys, "verdict"), verdicts)
