"""`refbp bench service --quick`: a real server, real clients, one row with its figures."""

from __future__ import annotations

import json

from refbp.cli import main


def test_the_service_bench_measures_a_healthy_server(capsys):
    assert main(["bench", "service", "--quick", "--no-report", "--json"]) == 0
    out, err = capsys.readouterr()
    (row,) = json.loads(out)
    assert row["requests"] == 100 and row["not_200"] == 0 and row["healthy_after"] is True
    assert 0 < row["p50_ms"] <= row["p99_ms"] <= row["max_ms"]
    assert row["requests_per_s"] > 0 and row["rss_before_mb"] > 0 and row["server_cpu_ms_per_request"] > 0
    assert "throughput:" in err and "memory:" in err
