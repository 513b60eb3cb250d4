"""An adapter (`refbp check --impl tests/dying_adapter.py:factory`) whose process dies on one case:
examples/numpy_mlp.py, except that the case named by $REFBP_TEST_DIE_ON kills the process
running it (os._exit, as a segfault or the OOM killer would), every time, or only the first
time when $REFBP_TEST_DIE_ONCE names a marker file (created by that first death). With
$REFBP_TEST_STARTED naming a folder, it leaves a file there for each case it starts, a line
in it per start; with
$REFBP_TEST_SLOW, it takes that many seconds more per case (a run long enough to interrupt)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from refbp.check.adapter import load_factory

CORRECT = load_factory(f"{Path(__file__).resolve().parents[1] / 'examples' / 'numpy_mlp.py'}:factory")


def factory(case: dict):
    if os.environ.get("REFBP_TEST_STARTED"):
        with open(Path(os.environ["REFBP_TEST_STARTED"]) / case["id"], "a") as starts:
            starts.write("started\n")
    time.sleep(float(os.environ.get("REFBP_TEST_SLOW", "0")))
    if case["id"] == os.environ.get("REFBP_TEST_DIE_ON"):
        marker = os.environ.get("REFBP_TEST_DIE_ONCE")
        if not marker or not Path(marker).exists():
            if marker:
                Path(marker).touch()
            os._exit(3)
    return CORRECT(case)
