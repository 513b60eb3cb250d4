"""Determinism, kept: two runs of the same cases write byte-identical details.csv (timings
live in summary.csv's `seconds` column and in verdicts.json, never in details.csv)."""

from __future__ import annotations

from refbp.cases import SUITE_DIR
from refbp.cli import main
from refbp.report.frames import DETAIL_COLUMNS

# Cases of every kind of row: published values, an RNN, float32, training, a relu kink.
CASES = [
    SUITE_DIR / "seed" / "seed-2-2-2.json",
    SUITE_DIR / "rnn" / "rnn-truncated-k5.json",
    SUITE_DIR / "mlp" / "mlp-float32-tanh-ce-b32.json",
    SUITE_DIR / "mlp" / "mlp-relu-d3-mse-b16-adam.json",
]


def details_of_a_run(folder, *options) -> bytes:
    assert main(["run", *map(str, CASES), "--report-dir", str(folder), "--no-progress", *options]) == 0
    (report,) = folder.glob("run-*")
    return (report / "details.csv").read_bytes()


def test_details_csv_is_byte_identical_between_two_runs(tmp_path, capsys):
    first = details_of_a_run(tmp_path / "a")
    second = details_of_a_run(tmp_path / "b")
    assert first == second
    assert first.count(b"\n") > 40  # rows of every case, not an empty table


def test_details_csv_is_byte_identical_with_the_random_fd_methods(tmp_path, capsys):
    for method in ("sampled", "directional"):
        first = details_of_a_run(tmp_path / f"{method}-a", "--oracle", "fd", "--fd-method", method)
        assert first == details_of_a_run(tmp_path / f"{method}-b", "--oracle", "fd", "--fd-method", method)


def test_details_csv_has_no_timing_column():
    assert not [c for c in DETAIL_COLUMNS if "second" in c or "time" in c or c.endswith("_s")]
