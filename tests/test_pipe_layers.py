"""Layer checks and refbp's options over the pipe (docs/formats.md sections 11 and 12): `check --cmd`
checks the layer cases on the layers a command's hello lists, `--layer` its layers alone, `fuzz
--cmd --layer` draws their inputs; `--dtype` and `--require all` work with `--cmd` as with
`--impl`. Teeth: a command that answers a layer wrongly fails naming the tensor; fairness: correct
layers pass, in either layout; a command without layers is one note (or exit 2 when nothing else
is asked)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from refbp.cases import SUITE_DIR
from refbp.cli import main

ROOT = Path(__file__).resolve().parents[1]
SERVER = Path(__file__).resolve().parent / "pipe_layer_servers.py"
SERVE = ROOT / "examples" / "pipe" / "python" / "serve_adapter.py"
LAYERS = SUITE_DIR / "layers"
AFFINE = [str(LAYERS / f"layer-affine-{n}.json") for n in ("b1-ordinary", "b4-large", "b4-ordinary-in-out")]
SOME = [
    *AFFINE,
    *(str(LAYERS / f"layer-{f}-b4-ordinary.json") for f in ("relu", "sigmoid", "tanh", "softmax-cross-entropy")),
]
MLP = [str(SUITE_DIR / "mlp" / "mlp-sigmoid-half-sse-b1.json"), str(SUITE_DIR / "mlp" / "mlp-leaky-relu-sse-b4.json")]


@pytest.fixture(autouse=True)
def no_reference_files(monkeypatch):
    monkeypatch.setenv("REFBP_REFERENCE_CACHE", "none")


def server(behaviour: str) -> str:
    return f"{sys.executable} {SERVER} {behaviour}"


def run(capsys, *argv: str) -> tuple[int, list, str]:
    """(exit code, the verdicts of --json, stderr) of `refbp ARGV --json --no-report`."""
    code = main([*argv, "--json", "--no-report", "--no-progress"])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else []), err


def failed(verdicts) -> dict:
    """case -> [(tensor, reference, diagnosis)] of its failed rows."""
    return {
        v["case"]: [(c["tensor"], c["reference"], c.get("diagnosis", "")) for c in v["checks"] if not c["passed"]]
        for v in verdicts
        if v["state"] != "pass"
    }


def test_correct_layers_pass_on_the_cases_in_either_layout(capsys):
    for behaviour in ("correct", "out_in"):  # CS231n's (in, out) layout, and (out, in)
        code, verdicts, err = run(capsys, "check", "--cmd", server(behaviour), *SOME)
        assert code == 0, err
        assert len(verdicts) == len(SOME) and failed(verdicts) == {}
        assert all(
            {"torch-autograd", "expected", "own-forward-fd"} <= {c["reference"] for c in v["checks"]}
            for v in verdicts
            if v["case"].startswith("layer-affine")
        )


def test_a_wrong_weight_gradient_fails_naming_the_tensor(capsys):
    code, verdicts, _ = run(capsys, "check", "--cmd", server("wrong_w"), *SOME)
    assert code == 1
    bad = failed(verdicts)
    assert set(bad) == {"layer-affine-b1-ordinary", "layer-affine-b4-large", "layer-affine-b4-ordinary-in-out"}
    for rows in bad.values():
        assert {tensor for tensor, _, _ in rows} == {"affine.w"}
        assert {reference for _, reference, _ in rows} == {"torch-autograd", "expected", "own-forward-fd"}
        assert {diagnosis for *_, diagnosis in rows} == {"scaled:1.5"}


@pytest.mark.parametrize(
    "behaviour, case, words",
    [
        ("no_b", "layer-affine-b4-large", "not given by the backward"),
        ("nan", "layer-tanh-b4-ordinary", ""),
    ],
)
def test_a_gradient_left_out_or_nan_is_a_failed_row(capsys, behaviour, case, words):
    code, verdicts, _ = run(capsys, "check", "--cmd", server(behaviour), *SOME)
    assert code == 1
    row = next(c for v in verdicts if v["case"] == case for c in v["checks"] if not c["passed"])
    assert row["tensor"] in ("affine.b", "tanh.x") and words in row["note"]


@pytest.mark.parametrize(
    "behaviour, case, words",
    [
        ("error", "layer-relu-b4-ordinary", "relu: out of memory"),
        ("extra", "layer-affine-b4-large", "its answer's grads name q: affine has gradients x, w, b only"),
        ("no_output", "layer-sigmoid-b4-ordinary", "output missing"),
    ],
)
def test_a_layer_answer_that_cannot_be_judged_fails_its_case_only(capsys, behaviour, case, words):
    code, verdicts, _ = run(capsys, "check", "--cmd", server(behaviour), *SOME)
    assert code == 1
    broken = [v for v in verdicts if v["errors"]]
    assert [v["case"] for v in broken if v["case"] == case] == [case]
    assert words in broken[0]["errors"][0]
    assert sum(v["state"] == "pass" for v in verdicts) >= len(SOME) - len(AFFINE)


def test_a_command_without_layers_says_so_in_one_line(capsys):
    code, verdicts, err = run(capsys, "check", "--cmd", server("no_layers"), *SOME)
    assert code == 2 and verdicts == []
    assert err.count("\n") == 1 and "nothing to check: 7 layer case(s) not checked" in err
    assert "its hello lists no `layers`" in err
    code, _, err = run(capsys, "check", "--cmd", server("no_layers"), "--layer")
    assert code == 2 and err.count("\n") == 1 and "its hello lists no `layers`" in err


def test_a_command_without_layers_is_checked_on_the_rest_with_one_note(capsys):
    command = f"{sys.executable} {SERVE} {ROOT / 'examples' / 'numpy_mlp.py'}:factory"
    code, verdicts, err = run(capsys, "check", "--cmd", command, *MLP, *AFFINE)
    assert code == 0 and len(verdicts) == len(MLP)
    notes = [line for line in err.splitlines() if "refbp: note:" in line]
    assert notes == [
        f"refbp: note: 3 layer case(s) not checked (affine): --cmd {command!r}: its hello lists no "
        "`layers`: it answers no layer requests"
    ]


def test_layer_only_checks_the_library_or_the_paths_and_leaves_whole_networks(capsys):
    code, verdicts, err = run(capsys, "check", "--cmd", server("layers_only"), "--layer", *AFFINE, *MLP)
    assert code == 0 and [v["case"] for v in verdicts] == [Path(p).stem for p in AFFINE]
    assert "2 whole-network case(s) not checked: --layer checks the command's layers only" in err
    code, verdicts, _ = run(capsys, "check", "--cmd", server("layers_only"), "--layer")
    assert code == 0 and {v["case"].split("-")[0] for v in verdicts} == {
        "layer:affine",
        "layer:relu",
        "layer:sigmoid",
        "layer:tanh",
        "layer:softmax_cross_entropy",
        "layer:rnn_step",
        "layer:rnn",
    }


def test_a_hello_with_an_unknown_layer_is_refused(capsys):
    code, _, err = run(capsys, "check", "--cmd", server("bad_layers"), *AFFINE)
    assert code == 2 and "its hello: layers:" in err and "conv2d" in err


def test_the_python_helper_serves_a_buggy_layers_module_and_refbp_names_the_bug(capsys):
    command = f"{sys.executable} {SERVE} --layers {ROOT / 'examples' / 'layers' / 'cs231n_bug_relu.py'}"
    code, verdicts, _ = run(capsys, "check", "--cmd", command, "--layer", str(LAYERS / "layer-relu-b4-ordinary.json"))
    assert code == 1
    assert {d for *_, d in failed(verdicts)["layer-relu-b4-ordinary"]} == {"dout-not-multiplied"}


@pytest.mark.parametrize("option", [("--dtype", "float32"), ("--require", "all")])
def test_dtype_and_require_reach_the_pipe(capsys, option):
    """--dtype float32: the command is asked in float32 (its hello lists it) and judged so; --require all:
    a command that gives no bias gradients (Mazur's) fails where it is PARTIAL otherwise."""
    factory = "numpy_mlp.py:factory" if option[0] == "--dtype" else "mazur_no_bias.py:factory"
    command = f"{sys.executable} {SERVE} {ROOT / 'examples' / factory}"
    cases = MLP if option[0] == "--dtype" else [str(SUITE_DIR / "seed")]
    code, verdicts, _ = run(capsys, "check", "--cmd", command, *cases, *option)
    if option[0] == "--dtype":
        assert code == 0 and {v["dtype"] for v in verdicts} == {"float32"}
        assert any(c.get("torch_error") is not None for v in verdicts for c in v["checks"])
    else:  # its hello declares `"not_provided": ["layers.*.bias"]` (the factory's, served)
        assert code == 1 and [v["state"] for v in verdicts] == ["fail"]
        assert {c["tensor"] for c in verdicts[0]["checks"] if not c["passed"]} == {"layers.0.bias", "layers.1.bias"}
        code, verdicts, _ = run(capsys, "check", "--cmd", command, *cases)
        assert code == 0 and [v.get("partial") for v in verdicts] == [True]
        assert set(verdicts[0]["not_provided"]) >= {"grads.layers.0.bias", "grads.layers.1.bias"}


def test_float16_cases_are_asked_in_float16(capsys):
    command = f"{sys.executable} {SERVE} {ROOT / 'examples' / 'numpy_mlp.py'}:factory"
    code, verdicts, err = run(capsys, "check", "--cmd", command, MLP[0], "--dtype", "float16")
    assert code == 0, err
    assert [v["dtype"] for v in verdicts] == ["float16"]


def test_layer_checks_refuse_another_dtype(capsys):
    code, _, err = run(capsys, "check", "--cmd", server("correct"), "--layer", "--dtype", "float32")
    assert code == 2 and "the layer checks are in float64 only" in err


def test_fuzz_draws_a_commands_layers_and_names_a_wrong_one(capsys):
    assert main(["fuzz", "--cmd", server("correct"), "--layer", "--examples", "5"]) == 0
    out = capsys.readouterr().out
    assert "35 input sets checked (7 functions, seed 0)" in out and "0 failed" in out
    assert main(["fuzz", "--cmd", server("wrong_w"), "--layer", "--examples", "5"]) == 1
    out = capsys.readouterr().out
    assert "affine.w" in out and "scaled:1.5" in out


def test_fuzz_over_the_pipe_takes_dtype(capsys):
    command = f"{sys.executable} {SERVE} {ROOT / 'examples' / 'numpy_mlp.py'}:factory"
    code = main(["fuzz", "--cmd", command, "--kind", "mlp", "--examples", "4", "--dtype", "float32", "--no-progress"])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert "refbp fuzz: 4 examples checked (mlp, float32, seed 0)" in out


def test_fuzz_draws_inside_the_capabilities_a_hello_declares(capsys):
    command = f"{sys.executable} {SERVE} {ROOT / 'examples' / 'mazur_no_bias.py'}:factory"
    code = main(["fuzz", "--cmd", command, "--examples", "3", "--no-progress"])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert "0 not supported (100 % of the drawn examples checked)" in out
    assert "drawn inside: kinds mlp; activations sigmoid; losses half_sse; optimizers sgd; dtypes float64" in out


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_node_example_answers_its_layers(capsys):
    code, verdicts, err = run(
        capsys, "check", "--cmd", f"node {ROOT / 'examples/pipe/js/mlp.js'}", "--layer", str(LAYERS)
    )
    assert code == 0, err
    assert len(verdicts) == 97 and failed(verdicts) == {}
    assert "10 layer case(s) not checked (rnn, rnn_step)" in err
    code, verdicts, _ = run(
        capsys,
        "check",
        "--cmd",
        f"node {ROOT / 'examples/pipe/js/mlp_tanh_on_net.js'}",
        "--layer",
        str(LAYERS / "layer-tanh-b4-ordinary.json"),
    )
    assert code == 1
    assert {d for *_, d in failed(verdicts)["layer-tanh-b4-ordinary"]} == {"activation-derivative:tanh-on-net"}


def test_a_layer_conversation_is_valid_against_the_pipe_schema():
    import jsonschema
    import numpy as np

    from refbp.cases.schema import schema_document
    from refbp.pipe.protocol import layer_request

    schema = schema_document("pipe")
    request = layer_request(
        3, "softmax_cross_entropy", "out_in", {"x": np.ones((2, 3)), "y": np.array([0, 2])}, 0.7, ["output", "grads"]
    )
    answers = [
        {"id": 3, "type": "answer", "output": 1.1, "grads": {"x": [[0.1, 0.2, -0.3], [0.1, 0.2, -0.3]]}},
        {
            "id": 0,
            "type": "hello",
            "protocol": "refbp-pipe/1",
            "name": "x",
            "kinds": [],
            "layers": ["relu"],
            "layout": "in_out",
            "dtypes": ["float16", "bfloat16"],
        },
    ]
    for message in (request, *answers):
        jsonschema.validate(message, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(dict(request, function="conv2d"), schema)
