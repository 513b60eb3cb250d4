"""Over the pipe, an optional quantity (intermediates, error signals, training) that the command's
hello offers but a case's answer leaves out is not provided for that case, never a failure: the
Python pipe server (examples/pipe/python/serve_adapter.py) serves an adapter without those methods."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from refbp.cli import main

ROOT = Path(__file__).resolve().parents[1]
SERVER = ROOT / "examples" / "pipe" / "python" / "serve_adapter.py"
BARE = ROOT / "tests" / "data" / "bare_adapter.py"


def test_an_adapter_without_the_optional_methods_passes_over_the_pipe(tmp_path, capsys):
    command = f"{sys.executable} {SERVER} {BARE}:factory"
    code = main(["check", "--cmd", command, str(ROOT / "cases" / "seed"), "--json", "--no-report", "--no-progress"])
    verdicts = json.loads(capsys.readouterr().out)
    assert code == 0, verdicts
    (verdict,) = verdicts
    assert verdict["passed"] and not verdict["errors"]
    assert {"intermediates", "params_after", "loss_after"} <= set(verdict["not_provided"])
    assert {row["quantity"] for row in verdict["checks"]} >= {"outputs", "loss", "grads"}
