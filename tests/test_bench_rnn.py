"""`refbp bench rnn --quick`: the rows, their fields, and the report folder (no timing is asserted)."""

from __future__ import annotations

import json

import pytest

from refbp.cli import main

FIELDS = {"model", "T", "batch", "backend", "seconds"}


def test_quick_json_rows_and_report(tmp_path, capsys):
    code = main(["bench", "rnn", "--quick", "--json", "--report-dir", str(tmp_path)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    rows = json.loads(captured.out)
    assert rows and all(row.keys() >= FIELDS for row in rows)
    assert {r["model"] for r in rows} == {"rnn-64-128-10"}
    import torch

    expected = {"refbp-numpy", "torch-nn-rnn-cpu"} | (
        {"refbp-torch-cuda", "torch-nn-rnn-cuda"} if torch.cuda.is_available() else set()
    )
    assert {r["backend"] for r in rows} == expected
    assert {r["T"] for r in rows} == {1, 10} and {r["batch"] for r in rows} == {32}
    assert all(r["seconds"] > 0 for r in rows)
    (folder,) = tmp_path.glob("bench-rnn-*")
    names = {p.name for p in folder.iterdir()}
    assert {"results.csv", "summary.md", "report.html", "environment.json", "rnn_time_vs_T.png"} <= names


def test_steps_option(capsys):
    code = main(["bench", "rnn", "--quick", "--steps", "2,3,4", "--backends", "refbp-numpy", "--json", "--no-report"])
    captured = capsys.readouterr()
    rows = json.loads(captured.out)
    assert code == 0 and [r["T"] for r in rows] == [2, 3, 4]
    assert "linear in T: refbp-numpy batch 32" in captured.err


def test_bad_steps_is_a_usage_error(capsys):
    assert main(["bench", "rnn", "--steps", "0", "--no-report"]) == 2
    assert "--steps" in capsys.readouterr().err


@pytest.mark.cuda
def test_cuda_rows(capsys):
    code = main(["bench", "rnn", "--device", "cuda", "--quick", "--json", "--no-report"])
    rows = json.loads(capsys.readouterr().out)
    assert code == 0
    assert {r["backend"] for r in rows} == {"refbp-torch-cuda", "torch-nn-rnn-cuda"}


def test_goal_lines_say_met_only_when_met():
    import pandas as pd

    from refbp.bench.rnn import goal_lines

    def frame(refbp_s):
        rows = [
            {"T": T, "batch": 32, "backend": backend, "seconds": seconds * T}
            for T in (10, 50, 200)
            for backend, seconds in (("refbp-numpy", refbp_s), ("torch-nn-rnn-cpu", 1.0))
        ]
        return pd.DataFrame(rows)

    (goal,) = [line for line in goal_lines(frame(0.9)) if line.startswith("goal:")]
    assert goal.endswith("= 0.90x (goal <= 1.0x: met)")
    (goal,) = [line for line in goal_lines(frame(1.1)) if line.startswith("goal:")]
    assert goal.endswith("= 1.10x (goal <= 1.0x: not met)")
    linear = [line for line in goal_lines(frame(0.9)) if line.startswith("linear in T:")]
    assert len(linear) == 2 and all("largest deviation from the line 0.0%" in line for line in linear)
