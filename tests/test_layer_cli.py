"""`refbp check --layer FILE.py[:NAME]`: the layer checks from the command line (issue 28, item 1)."""

from __future__ import annotations

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
