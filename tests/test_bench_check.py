"""`refbp bench check --quick`: the rows, their fields and the report folder of a smoke run (a
tiny network, one round, two suite cases; no timing is asserted)."""

from __future__ import annotations

import json

from refbp.cli import main

FIELDS = {
    "network",
    "activation",
    "params",
    "cases",
    "state",
    "check_s",
    "check_range",
    "check_in_run_s",
    "check_cold_s",
    "gradcheck_s",
    "gradcheck_range",
    "run_s",
    "run_range",
    "ratio",
    "goal",
    "load_1min",
    "baseline_note",
}


def test_quick_json_rows_and_report(tmp_path, capsys):
    code = main(["bench", "check", "--quick", "--json", "--report-dir", str(tmp_path)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    rows = json.loads(captured.out)
    assert [r["network"] for r in rows] == ["4-6-3", "suite (2 cases)"]
    assert all(row.keys() >= FIELDS for row in rows)
    assert all(r["state"] == "pass" and r["check_s"] > 0 and r["ratio"] > 0 for r in rows)
    assert rows[0]["gradcheck_s"] > 0 and rows[0]["params"] == 51 and rows[1]["cases"] == 2 and rows[1]["run_s"] > 0
    (folder,) = tmp_path.glob("bench-check-*")
    assert {"results.csv", "summary.md", "report.html", "environment.json"} <= {p.name for p in folder.iterdir()}
