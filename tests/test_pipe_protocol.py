"""refbp-pipe/1's messages (refbp.pipe.protocol, `refbp schema pipe`): arrays as nested lists or base64
both ways, the case as the command reads it, every message of a real conversation valid against the
schema, a server that speaks base64 passing, fuzz's command line naming --cmd, and the bench's pipe
columns (no timing asserted)."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from refbp.cases import SUITE_DIR, load_case
from refbp.cases.schema import schema_document
from refbp.check.adapter import case_document
from refbp.cli import main
from refbp.fuzz import FuzzOptions
from refbp.pipe import close_all, start
from refbp.pipe.protocol import (
    BadArray,
    decode_array,
    encode_array,
    encode_case,
    evaluate,
    hello,
)

ROOT = Path(__file__).resolve().parents[1]
SERVER = ROOT / "examples" / "pipe" / "python" / "serve_adapter.py"
NUMPY_MLP = f"{ROOT / 'examples' / 'numpy_mlp.py'}:factory"
SEED = SUITE_DIR / "seed" / "seed-2-2-2.json"


@pytest.fixture(autouse=True)
def stop_commands(monkeypatch):
    monkeypatch.setenv("REFBP_REFERENCE_CACHE", "none")
    yield
    close_all()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_base64_arrays_round_trip_exactly(dtype):
    array = np.random.default_rng(0).standard_normal((3, 4)).astype(dtype)
    encoded = encode_array(array, base64_arrays=True)
    assert encoded["dtype"] == dtype and encoded["shape"] == [3, 4]
    assert len(base64.b64decode(encoded["base64"])) == array.size * array.itemsize
    assert np.array_equal(decode_array(json.loads(json.dumps(encoded))), array.astype(np.float64))


def test_class_indices_stay_lists_and_null_reads_as_nan():
    assert encode_array(np.array([2, 0, 1]), base64_arrays=True) == [2, 0, 1]
    assert np.isnan(decode_array([[1.0, None]])[0, 1])


@pytest.mark.parametrize(
    "value, problem",
    [
        ({"dtype": "float16", "shape": [1], "base64": ""}, "dtype 'float16' is not one of float64, float32"),
        (
            {"dtype": "float64", "shape": [2], "base64": base64.b64encode(b"12345678").decode()},
            "8 bytes for shape [2] of float64 (16 expected)",
        ),
        ({"dtype": "float64", "shape": [1], "base64": "@@@"}, "base64 array: "),
        ([[1.0, "x"]], "not an array of numbers"),
    ],
)
def test_an_unreadable_array_is_named(value, problem):
    with pytest.raises(
        BadArray, match=problem.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(").replace(")", r"\)")
    ):
        decode_array(value)


def test_the_case_as_the_command_reads_it():
    case = load_case(SUITE_DIR / "mlp" / "mlp-float32-sigmoid-mse-b16.json")
    own = encode_case(case_document(case))
    assert own["dtype"] == "float32" and "expected" not in own and own["id"] == case.id
    assert encode_case(case_document(case, "float64"))["dtype"] == "float64"  # its own loss's finite differences
    moved = encode_case(case_document(case), params={k: v + 1 for k, v in case_document(case)["params"].items()})
    assert moved["params"] != own["params"] and moved["inputs"] == own["inputs"]


def test_a_real_conversation_is_valid_against_the_schema():
    validator = jsonschema.Draft202012Validator(schema_document("pipe"))
    factory = start(f"{sys.executable} {SERVER} {NUMPY_MLP}")
    document = case_document(load_case(SEED))
    case = encode_case(document)
    request = evaluate(
        1, case, ["outputs", "loss", "grads", "intermediates", "error_signals", "losses"], [document["params"]] * 2
    )
    request["params_list"] = [{k: v.tolist() for k, v in p.items()} for p in [document["params"]] * 2]
    answer = factory.client.ask(request, "test")
    hello_answer = {
        "id": 0,
        "type": "hello",
        "protocol": "refbp-pipe/1",
        "name": factory.name,
        "quantities": list(factory.hello.quantities),
    }
    for message in (hello(), hello_answer, request, answer, {"id": 3, "type": "error", "message": "no"}):
        assert not list(validator.iter_errors(message)), message
    assert list(validator.iter_errors({"id": 1, "type": "answer", "grads": {"w": "text"}}))


def test_a_server_speaking_base64_passes(capsys):
    paths = [str(SEED), str(SUITE_DIR / "mlp" / "mlp-ce-classes-d3-b64-adam.json")]
    code = main(
        [
            "check",
            "--cmd",
            f"{sys.executable} {SERVER} {NUMPY_MLP} --base64",
            *paths,
            "--json",
            "--no-report",
            "--no-progress",
        ]
    )
    verdicts = json.loads(capsys.readouterr().out)
    assert {v["case"] for v in verdicts} == {"seed-2-2-2", "mlp-ce-classes-d3-b64-adam"}
    assert all(v["implementation"].startswith("numpy via pipe") for v in verdicts)
    assert verdicts[1]["passed"], [c for c in verdicts[1]["checks"] if not c["passed"]]
    assert code in (0, 1)


def test_fuzz_names_the_command_to_draw_the_same_examples_again():
    assert FuzzOptions(impl="cmd:./mlp --fast").command().endswith("--cmd './mlp --fast'")


def test_the_bench_rows_carry_the_pipe_columns(tmp_path):
    from refbp.bench.check import _checked, case_file
    from refbp.bench.fd import make_case
    from refbp.bench.pipe import pipe_columns

    case = make_case((3, 4, 2), activation="sigmoid")
    path = tmp_path / f"{case.id}.json"
    path.write_text(json.dumps(case_file(case)))
    columns = pipe_columns(case, path, NUMPY_MLP, 1, _checked)
    assert columns["pipe_state"] == "pass" and columns["requests"] >= 1
    assert columns["request_s"] > 0 and columns["call_s"] > 0 and columns["check_cmd_s"] > 0


def test_a_stopped_factory_starts_its_command_again_when_asked():
    """load_factory's callers cache the factory of `cmd:COMMAND`: one object per command, whose
    command starts again after close_all (the bench checks many cases, each run ending with it)."""
    command = f"{sys.executable} {SERVER} {NUMPY_MLP}"
    factory = start(command)
    first = factory.client.process.process.pid
    close_all()
    assert factory.client.process is None and start(command) is factory
    assert factory.client.process.process.pid != first
    close_all()
    document = case_document(load_case(SEED))
    assert factory(document).loss(document["params"], document["inputs"], document["targets"]) > 0
