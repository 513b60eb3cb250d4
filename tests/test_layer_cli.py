"""`refbp check --layer FILE.py[:NAME]`: the layer checks from the command line (issue 28, item 1)."""

from __future__ import annotations

import json
from pathlib import Path

from refbp.cli import main

LAYERS = Path(__file__).resolve().parents[1] / "examples" / "layers"


def test_the_command_line(capsys):
    assert main(["check", "--layer", str(LAYERS / "cs231n_layers.py"), "--no-report", "--no-progress"]) == 0
    assert "42/42 cases passed" in capsys.readouterr().out
    assert main(["check", "--layer", str(LAYERS / "cs231n_bug_bias.py"), "--no-report", "--no-progress"]) == 1
    out = capsys.readouterr().out
    assert "affine.b" in out and "diagnosis: bias-not-summed-over-batch" in out
    assert main(["check", "--layer", str(LAYERS / "nope.py"), "--no-report"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_fuzz_layer_finds_and_names_a_slip(capsys):
    code = main(["fuzz", "--layer", str(LAYERS / "cs231n_bug_relu.py"), "--examples", "5", "--seed", "1"])
    out = capsys.readouterr().out
    assert code == 1 and "diagnosis: dout-not-multiplied" in out and "35 input sets checked (7 functions" in out


def test_a_layer_that_exits_hangs_or_prints_fakes_nothing(tmp_path, capsys):
    (tmp_path / "hostile_layers.py").write_text(f"""
import sys, time
sys.path.insert(0, {str(LAYERS)!r})
import cs231n_layers as L

def relu_backward(dout, cache):
    sys.exit(0)

def tanh_backward(dout, cache):
    time.sleep(60)

def sigmoid_forward(x):
    print("printed by the layer")
    return L.sigmoid_forward(x)

REFBP_LAYERS = {{"preset": "cs231n", "layers": {{
    "relu": (L.relu_forward, relu_backward), "tanh": (L.tanh_forward, tanh_backward),
    "sigmoid": (sigmoid_forward, L.sigmoid_backward)}}}}
""")
    code = main(["check", "--layer", str(tmp_path / "hostile_layers.py"), "--no-report", "--json", "--timeout", "2"])
    verdicts = json.loads(capsys.readouterr().out)  # what the layer prints goes to the workers' stderr
    assert code == 1
    errors = {v["case"]: v["errors"] for v in verdicts if v["errors"]}
    assert "sys.exit(0) in gradients()" in errors["layer:relu"][0]
    assert "did not finish within 2 s (--timeout)" in errors["layer:tanh"][0]
    assert all(v["state"] == "pass" for v in verdicts if v["case"].startswith("layer:sigmoid-"))
