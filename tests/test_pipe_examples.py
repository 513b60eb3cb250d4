"""The pipe examples in other languages (examples/pipe): the C MLP (built here with the system cc, as
its Makefile does) and the Node MLP pass the whole suite's MLP cases through `refbp check --cmd`
(the RNN cases declined by their hello); their copies with one injected bug fail and are
diagnosed; `refbp fuzz --cmd` runs on them. Both answer `layer` requests (docs/formats.md section 12)
for their affine layer, activations and losses: the C layers pass the layer cases, their copies with
a bug fail naming the tensor, `refbp fuzz --cmd --layer` finds nothing. Outside CI a missing cc or
node skips; under CI=true it fails (conftest.missing_component)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import missing_component
from refbp.cases import SUITE_DIR
from refbp.cli import main

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "pipe"


@pytest.fixture(scope="module")
def references(tmp_path_factory):
    """One reference cache for the module: the suite's references are computed once, for both examples."""
    return tmp_path_factory.mktemp("references")


@pytest.fixture(autouse=True)
def shared_references(references, monkeypatch):
    monkeypatch.setenv("REFBP_REFERENCE_CACHE", str(references))


@pytest.fixture(scope="module")
def c_programs(tmp_path_factory) -> Path:
    """examples/pipe/c built into a temporary folder by its Makefile's rules: mlp, mlp_sigmoid_on_net and
    mlp_affine_w_sign."""
    if shutil.which("cc") is None or shutil.which("make") is None:
        missing_component("cc or make is not installed (Debian packages gcc, make)")
    out = tmp_path_factory.mktemp("c")
    built = subprocess.run(
        ["make", "-C", str(EXAMPLES / "c"), f"OUT={out}"], capture_output=True, text=True, check=False
    )
    assert built.returncode == 0, built.stderr
    assert "warning" not in built.stderr, built.stderr
    return out


@pytest.fixture(scope="module")
def node() -> str:
    path = shutil.which("node")
    if path is None:
        missing_component("node is not installed (Debian package nodejs)")
    return path


def check_json(capsys, command: str, *paths) -> tuple[int, list[dict], str]:
    code = main(["check", "--cmd", command, *map(str, paths), "--json", "--no-report", "--no-progress"])
    out, err = capsys.readouterr()
    return code, json.loads(out), err


def assert_whole_mlp_suite_passes(capsys, command: str, name: str, layer_cases: int = 0):
    code, verdicts, err = check_json(capsys, command)
    # Its hello lists float64 and float32: the cases of other dtypes, and the RNNs, are declined.
    mlp = [v for v in verdicts if v["network"].startswith("mlp") and v["dtype"] in ("float64", "float32")]
    failed = {
        v["case"]: [(c["reference"], c["tensor"]) for c in v["checks"] if not c["passed"]] or v["errors"]
        for v in mlp
        if not v["passed"]
    }
    assert not failed, failed
    assert len(mlp) >= 40 and all(v["implementation"] == name for v in verdicts)
    # the layer cases (docs/formats.md section 12) on the layers its hello lists (the Node MLP's), all passed
    layers = [v for v in verdicts if v["network"].startswith("layer ")]
    assert all(v["state"] == "pass" for v in layers) and len(layers) == layer_cases
    assert all(v["error_kind"] == "unsupported" for v in verdicts if v not in mlp and v not in layers)
    assert code == 0, err


def diagnoses(verdicts: list[dict]) -> set[str]:
    return {c.get("diagnosis") for v in verdicts for c in v["checks"] if not c["passed"]}


def test_the_c_mlp_passes_the_whole_mlp_suite(capsys, c_programs):
    assert_whole_mlp_suite_passes(capsys, str(c_programs / "mlp"), "c-mlp", layer_cases=97)
    # kept in the verdict store under its hello's name and version, as a run of `check --impl` is
    assert main(["history", "--implementation", "c-mlp"]) == 0
    (row,) = [line.split() for line in capsys.readouterr().out.splitlines() if " check " in line]
    assert row[2:5] == ["check", "c-mlp", "1.0"]


def test_the_c_sigmoid_bug_is_caught_and_diagnosed(capsys, c_programs):
    seed = SUITE_DIR / "seed" / "seed-2-2-2.json"
    code, verdicts, _ = check_json(capsys, str(c_programs / "mlp_sigmoid_on_net"), seed)
    assert code == 1 and not verdicts[0]["passed"]
    failed = {(c["reference"], c["quantity"]) for c in verdicts[0]["checks"] if not c["passed"]}
    assert {("torch-autograd", "grads"), ("own-forward-fd", "grads")} <= failed  # its backward, not its forward
    assert diagnoses(verdicts) == {"activation-derivative:sigmoid-on-net"}


C_LAYERS = {
    "affine",
    *("identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "softmax"),
    *("half_sse", "sse", "mse", "bce", "cross_entropy", "softmax_cross_entropy"),
}


def test_the_c_mlp_answers_its_layers(capsys, c_programs):
    # the suite's layer cases: all but the RNN layers', which its hello does not list
    code, verdicts, err = check_json(capsys, str(c_programs / "mlp"), "--layer", SUITE_DIR / "layers")
    assert code == 0, err
    assert len(verdicts) == 97 and all(v["state"] == "pass" for v in verdicts)
    assert "10 layer case(s) not checked (rnn, rnn_step)" in err
    # refbp's library of input sets, on every function its hello lists
    code, verdicts, err = check_json(capsys, str(c_programs / "mlp"), "--layer")
    assert code == 0, err
    assert all(v["state"] == "pass" for v in verdicts)
    assert {v["network"].removeprefix("layer ") for v in verdicts} == C_LAYERS


@pytest.mark.parametrize(
    ("program", "case", "tensor", "diagnosis"),
    [
        ("mlp_sigmoid_on_net", "sigmoid-b4-ordinary", "sigmoid.x", "activation-derivative:sigmoid-on-net"),
        ("mlp_affine_w_sign", "affine-b4-ordinary", "affine.w", "sign"),
    ],
)
def test_a_c_layer_bug_is_caught_naming_the_tensor(capsys, c_programs, program, case, tensor, diagnosis):
    path = SUITE_DIR / "layers" / f"layer-{case}.json"
    code, verdicts, _ = check_json(capsys, str(c_programs / program), "--layer", path)
    assert code == 1 and verdicts[0]["state"] == "fail"
    failed = [c for c in verdicts[0]["checks"] if not c["passed"]]
    assert {c["tensor"] for c in failed} == {tensor}  # its backward, not its forward
    assert {c["reference"] for c in failed} == {"torch-autograd", "own-forward-fd", "expected"}
    assert diagnoses(verdicts) == {diagnosis}


def test_fuzz_draws_the_c_layers(capsys, c_programs):
    code = main(["fuzz", "--cmd", str(c_programs / "mlp"), "--layer", "--examples", "3", "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "45 input sets checked (15 functions, seed 0)" in out and "0 failed" in out


def test_the_node_mlp_passes_the_whole_mlp_suite(capsys, node):
    assert_whole_mlp_suite_passes(capsys, f"{node} {EXAMPLES / 'js' / 'mlp.js'}", "js-mlp", layer_cases=97)


def test_the_node_tanh_bug_is_caught_and_diagnosed(capsys, node):
    case = SUITE_DIR / "mlp" / "mlp-tanh-mse-b8-momentum.json"
    code, verdicts, _ = check_json(capsys, f"{node} {EXAMPLES / 'js' / 'mlp_tanh_on_net.js'}", case)
    assert code == 1 and not verdicts[0]["passed"]
    failed = {(c["reference"], c["quantity"]) for c in verdicts[0]["checks"] if not c["passed"]}
    assert ("own-forward-fd", "grads") in failed and ("torch-autograd", "outputs") not in failed
    assert "activation-derivative:tanh-on-net" in diagnoses(verdicts)


def test_fuzz_runs_on_the_c_mlp(capsys, c_programs):
    code = main(["fuzz", "--cmd", str(c_programs / "mlp"), "--examples", "4", "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "4 examples checked" in out and "0 not supported" in out
    assert "drawn inside: kinds mlp;" in out and "kind        mlp 4" in out  # its hello's kinds: MLPs only are drawn
