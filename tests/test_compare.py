"""`refbp compare` on three implementations (refbp, a correct example, a buggy one), from
verdict files, run folders and the store; a changed case is marked, never compared."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from refbp.cases import SUITE_DIR
from refbp.cli import main

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SEED = str(SUITE_DIR / "seed" / "seed-2-2-2.json")
RELU = str(SUITE_DIR / "mlp" / "mlp-leaky-relu-sse-b4.json")


def verdicts(tmp_path, name, argv, capsys) -> Path:
    main([*argv, "--json", "--no-progress", "--no-report"])
    path = tmp_path / f"{name}.json"
    path.write_text(capsys.readouterr().out)
    return path


def test_three_implementations_side_by_side(tmp_path, capsys):
    refbp = verdicts(tmp_path, "refbp", ["run", SEED, RELU], capsys)
    numpy_impl = verdicts(
        tmp_path,
        "numpy",
        ["check", "--impl", f"{EXAMPLES / 'numpy_mlp.py'}:factory", "--name", "numpy-example", SEED, RELU],
        capsys,
    )
    main(
        [
            "check",
            "--impl",
            f"{EXAMPLES / 'numpy_mlp_sigmoid_bug.py'}:factory",
            "--name",
            "buggy",
            "--no-progress",
            "--report-dir",
            str(tmp_path / "runs"),
            SEED,
            RELU,
        ]
    )
    capsys.readouterr()
    run_folder = next((tmp_path / "runs").iterdir())
    assert main(["compare", str(refbp), str(numpy_impl), str(run_folder), "--report-dir", str(tmp_path / "cmp")]) == 0
    out = next((tmp_path / "cmp").iterdir())
    assert {p.name for p in out.iterdir()} == {"cases.csv", "tensors.csv", "summary.md", "report.html", "heatmap.png"}
    cases = pd.read_csv(out / "cases.csv").set_index("case")
    assert cases.loc["seed-2-2-2", "buggy: status"] == "FAIL"
    assert cases.loc["seed-2-2-2", "numpy-example: status"] == "pass"
    assert cases.loc["mlp-leaky-relu-sse-b4", "buggy: status"] == "pass"  # no sigmoid there
    tensors = pd.read_csv(out / "tensors.csv")
    row = tensors[
        (tensors["case"] == "seed-2-2-2")
        & (tensors["tensor"] == "layers.0.weight")
        & (tensors["reference"] == "torch-autograd")
        & (tensors["quantity"] == "grads")
    ].iloc[0]
    assert row["buggy: rel err"] > 0.5 and row["numpy-example: rel err"] < 1e-9


def test_a_changed_case_is_never_compared_silently(tmp_path, capsys):
    first = verdicts(tmp_path, "a", ["run", SEED], capsys)
    documents = json.loads(first.read_text())
    documents[0]["case_hash"] = "0" * 64
    second = tmp_path / "b.json"
    second.write_text(json.dumps(documents))
    assert main(["compare", str(first), str(second), "--report-dir", str(tmp_path / "cmp")]) == 0
    cases = pd.read_csv(next((tmp_path / "cmp").iterdir()) / "cases.csv")
    assert "case changed" in cases.loc[0, "note"]
    assert set(cases.filter(like=": status").iloc[0]) == {"case changed"}


def test_compare_reads_runs_from_the_store(tmp_path, capsys):
    main(["run", SEED, "--no-progress", "--no-report"])
    recorded = [line for line in capsys.readouterr().out.splitlines() if line.startswith("recorded as run")]
    run_id = recorded[0].split()[3]
    assert main(["compare", f"store:{run_id[:8]}", "--report-dir", str(tmp_path)]) == 0
    assert main(["compare", "store:ffffffffffff", "--report-dir", str(tmp_path)]) == 2
    assert "no run with that id" in capsys.readouterr().err
