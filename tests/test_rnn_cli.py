"""The RNN through the command line, in process: the shipped RNN suite, a hand-written case,
the hand-checked scalar case altered, and `refbp explain --through-time`."""

from __future__ import annotations

import copy
import json

import pandas as pd

from helpers import write_case
from refbp.cases import SUITE_DIR
from refbp.cli import main

RNN_SUITE = SUITE_DIR / "rnn"
SCALAR = RNN_SUITE / "rnn-scalar-by-hand.json"

# Written by hand in the spec's format, explicit weights, nothing generated: what someone
# outside the project would send.
HAND_WRITTEN = {
    "format": "refbp-case/1",
    "id": "outside-rnn",
    "title": "explicit weights, tanh, last-step cross-entropy, h0, truncated every 2 steps, Adam",
    "network": {
        "kind": "rnn",
        "input_size": 1,
        "hidden_size": 2,
        "output_size": 3,
        "nonlinearity": "tanh",
        "output_activation": "identity",
        "readout": "last_step",
        "bias": True,
        "readout_bias": False,
        "truncate": 2,
    },
    "loss": "cross_entropy",
    "params": {
        "rnn.weight_ih": [[0.7], [-0.4]],
        "rnn.weight_hh": [[0.3, -0.9], [0.6, 0.2]],
        "rnn.bias_ih": [0.05, -0.1],
        "rnn.bias_hh": [0.2, 0.15],
        "readout.weight": [[1.0, -0.5], [0.25, 0.75], [-0.6, 0.4]],
    },
    "inputs": [[[0.5], [-1.0], [0.25], [1.5], [-0.3]], [[1.2], [0.1], [-0.7], [0.0], [0.9]]],
    "targets": [2, 0],
    "h0": [[0.1, -0.2], [0.0, 0.3]],
    "train": {"optimizer": "adam", "lr": 0.05, "steps": 2},
}


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_rnn_suite_passes_with_a_gradient_plot_per_case(tmp_path, capsys):
    code, out, _ = run_cli(capsys, "run", RNN_SUITE, "--report-dir", tmp_path, "--no-progress")
    assert code == 0, out
    report = next(tmp_path.iterdir())
    cases = sorted(p.stem for p in RNN_SUITE.glob("*.json"))
    assert len(cases) >= 15
    html = (report / "report.html").read_text()
    for case in cases:
        png = report / f"grad-through-time-{case}.png"
        assert png.stat().st_size > 0, case
        assert f'src="{png.name}"' in html
    details = pd.read_csv(report / "details.csv")
    assert details["passed"].all()
    assert {"torch-autograd", "finite-difference", "expected"} <= set(details["reference"])


def test_a_hand_written_case_passes(tmp_path, capsys):
    write_case(tmp_path, HAND_WRITTEN)
    code, out, _ = run_cli(capsys, "run", tmp_path / "outside-rnn.json", "--no-report", "--no-progress")
    assert code == 0, out
    assert "PASS  outside-rnn" in out


def test_an_altered_hand_checked_value_fails_naming_the_tensor(tmp_path, capsys):
    document = copy.deepcopy(json.loads(SCALAR.read_text()))
    document["expected"]["grads"]["rnn.weight_hh"] = [[8.4153]]  # hand value 8.4152, one digit changed
    write_case(tmp_path, document)
    code, out, _ = run_cli(capsys, "run", tmp_path, "--no-report", "--no-progress", "--json")
    assert code == 1
    verdict = json.loads(out)[0]
    failed = [(c["quantity"], c["tensor"], c["reference"]) for c in verdict["checks"] if not c["passed"]]
    assert failed == [("grads", "rnn.weight_hh", "expected")]


def test_explain_through_time_prints_every_step(capsys):
    code, out, _ = run_cli(capsys, "explain", SCALAR, "--through-time")
    assert code == 0
    # By hand (the case's source): dE/dh_3 = 2.92, dE/dh_2 = 4.736, dE/dh_1 = 4.7888, dE/dh_0 = 3.83104.
    for t, value in [(0, "3.831040e+00"), (1, "4.788800e+00"), (2, "4.736000e+00"), (3, "2.920000e+00")]:
        assert f"t = {t:>4}  ||dE/dh_t|| = {value}" in out


def test_explain_shows_vanishing_and_exploding(capsys):
    shrink = {}
    for name in ("rnn-vanishing-small-recurrent", "rnn-exploding-large-recurrent"):
        code, out, _ = run_cli(capsys, "explain", name, "--through-time")
        assert code == 0
        norms = [
            float(line.split("||dE/dh_t|| = ")[1].split()[0]) for line in out.splitlines() if "||dE/dh_t|| = " in line
        ]
        assert len(norms) == 21  # h_0 .. h_20
        shrink[name] = norms[0] / norms[-1]
    assert shrink["rnn-vanishing-small-recurrent"] < 1e-4
    assert shrink["rnn-exploding-large-recurrent"] > 1e2


def test_explain_needs_param_or_through_time(capsys):
    code, _, err = run_cli(capsys, "explain", SCALAR)
    assert code == 2
    assert "--param" in err and "--through-time" in err


def test_through_time_on_an_mlp_is_a_usage_error(capsys):
    code, _, err = run_cli(capsys, "explain", "seed-2-2-2", "--through-time")
    assert code == 2
    assert "RNN" in err
