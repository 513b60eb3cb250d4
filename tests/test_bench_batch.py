"""`refbp bench batch --quick`: the rows, their fields, and the report folder (no timing is asserted)."""

from __future__ import annotations

import json
import math

import pytest

from refbp.cli import main

FIELDS = {"model", "dtype", "batch", "backend", "seconds", "examples_per_s", "gflops", "gemm_peak_gflops"}
CPU_BACKENDS = {"refbp-numpy", "refbp-torch-cpu", "torch-autograd-cpu"}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    report_dir = tmp_path_factory.mktemp("bench")
    import io
    from contextlib import redirect_stderr, redirect_stdout

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["bench", "batch", "--quick", "--json", "--report-dir", str(report_dir)])
    return code, out.getvalue(), err.getvalue(), report_dir


def test_quick_json_rows(quick_run):
    code, out, err, _ = quick_run
    assert code == 0, err
    rows = json.loads(out)  # stdout holds the JSON and nothing else
    assert rows and all(row.keys() >= FIELDS for row in rows)
    assert {r["model"] for r in rows} == {"mlp-784-256-256-10", "mlp-64-64-64-10"}
    assert {(r["model"], r["dtype"]) for r in rows} == {
        ("mlp-784-256-256-10", "float64"),
        ("mlp-784-256-256-10", "float32"),
        ("mlp-64-64-64-10", "float64"),
    }
    import torch

    expected = CPU_BACKENDS | ({"refbp-torch-cuda", "torch-autograd-cuda"} if torch.cuda.is_available() else set())
    assert {r["backend"] for r in rows} == expected
    assert {r["mode"] for r in rows} == {"batched", "serial"}
    for r in rows:
        assert r["seconds"] > 0 and r["gemm_peak_gflops"] > 0
        assert math.isclose(r["examples_per_s"], r["batch"] / r["seconds"], rel_tol=1e-9)
    # Every (model, dtype, backend, mode) has every quick batch size once.
    keys = [(r["model"], r["dtype"], r["backend"], r["mode"], r["batch"]) for r in rows]
    assert len(keys) == len(set(keys))
    assert {r["batch"] for r in rows} == {1, 8, 64}


def test_flops_count_the_matrix_products():
    from refbp.bench.batch import mlp_flops

    # forward 2*B*n*m per layer, dW 2*B*n*m, dx 2*B*n*m for all layers but the first
    assert mlp_flops((2, 3, 4), 5) == 2 * 5 * (2 * 3 * 2 + 3 * 4 * 3)


def test_report_folder(quick_run):
    _code, _, err, report_dir = quick_run
    folders = list(report_dir.glob("bench-batch-*"))
    assert len(folders) == 1 and str(folders[0]) in err
    names = {p.name for p in folders[0].iterdir()}
    assert {
        "results.csv",
        "summary.md",
        "report.html",
        "environment.json",
        "time_per_example.png",
        "speedup_over_serial.png",
        "gflops.png",
    } <= names
    for png in folders[0].glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = (folders[0] / "summary.md").read_text()
    assert "GEMM rate" in summary and "time_per_example.png" in (folders[0] / "report.html").read_text()


def test_cuda_without_cuda_is_a_usage_error(capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    assert main(["bench", "batch", "--device", "cuda", "--quick", "--no-report"]) == 2
    assert "CUDA is not available" in capsys.readouterr().err
    assert main(["bench", "batch", "--backends", "refbp-torch-cuda", "--quick", "--no-report"]) == 2


def test_unknown_backend_is_a_usage_error(capsys):
    assert main(["bench", "batch", "--backends", "refbp-fortran", "--no-report"]) == 2
    assert "refbp-fortran" in capsys.readouterr().err


@pytest.mark.cuda
def test_cuda_rows(capsys):
    code = main(["bench", "batch", "--device", "cuda", "--batches", "1,8", "--quick", "--json", "--no-report"])
    rows = json.loads(capsys.readouterr().out)
    assert code == 0
    assert {r["backend"] for r in rows} == {"refbp-torch-cuda", "torch-autograd-cuda"}


def goal_frame(refbp_s: float, torch_s: float, pct: float, cuda_ratio: float | None = None):
    """The rows goal_lines reads, with made-up times (no timing is run)."""
    import pandas as pd

    def row(backend, seconds, dtype="float64", batch=256, pct_of_gemm=50.0):
        return {
            "model": "mlp-784-256-256-10",
            "dtype": dtype,
            "batch": batch,
            "backend": backend,
            "mode": "batched",
            "seconds": seconds,
            "gflops": 10.0,
            "pct_of_gemm": pct_of_gemm,
            "gemm_peak_gflops": 20.0,
        }

    rows = [row("refbp-numpy", refbp_s, pct_of_gemm=pct), row("torch-autograd-cpu", torch_s)]
    if cuda_ratio is not None:
        rows += [row("refbp-torch-cuda", cuda_ratio, batch=4096), row("torch-autograd-cuda", 1.0, batch=4096)]
    return pd.DataFrame(rows)


def test_goal_lines_say_met_only_when_met():
    from refbp.bench.batch import goal_lines

    met = goal_lines(goal_frame(0.9, 1.0, 80.0, cuda_ratio=1.1))
    assert len(met) == 3 and all(line.endswith(": met)") for line in met), met
    for refbp_s, pct, cuda in ((1.1, 80.0, 1.1), (0.9, 70.0, 1.1), (0.9, 80.0, 1.3)):
        lines = goal_lines(goal_frame(refbp_s, 1.0, pct, cuda_ratio=cuda))
        assert sum("not met" in line for line in lines) == 1, lines
    assert goal_lines(goal_frame(0.9, 1.0, 80.0)[:0]) == []  # no rows timed: no goal claimed
