"""refbp.nn.heap: importing refbp.nn keeps freed memory for the next batch step (glibc), so a
repeated step touches no fresh pages; a user's own malloc settings are left alone."""

from __future__ import annotations

import os
import platform
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cases.generate import random_problem
from cases.model import MLPNetwork
from refbp.nn import build_model, heap, losses

REPO = Path(__file__).resolve().parents[1]
glibc_only = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")


def _imported_and_set(env_extra: dict) -> str:
    env = {k: v for k, v in os.environ.items() if k not in heap.USER_SETTINGS}
    env.update(env_extra, PYTHONPATH=str(REPO))
    code = "import refbp.nn, refbp.nn.heap as h; print(h._done)"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True).stdout.strip()


@glibc_only
def test_importing_refbp_nn_sets_the_thresholds_unless_the_user_tuned_malloc():
    assert _imported_and_set({}) == "True"
    assert _imported_and_set({"MALLOC_TRIM_THRESHOLD_": "131072"}) == "False"
    assert _imported_and_set({"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=131072"}) == "False"


@glibc_only
def test_a_repeated_batch_step_touches_no_fresh_pages():
    if not heap.keep_freed_memory():
        pytest.skip("malloc tuned by the environment of this run")
    network = MLPNetwork(sizes=(784, 256, 256, 10), activations=("relu", "relu", "identity"))
    params, inputs, targets = random_problem(network.param_shapes(), (256, 784), (256,), targets="classes",
                                             classes=10, seed=1)
    model, loss = build_model(network), losses.get("cross_entropy")

    def step():
        cache = model.forward(np, params, inputs)
        model.backward(np, params, cache, loss.gradient(np, cache.outputs, targets))

    step()
    step()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(5):
        step()
    faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 5
    # Without the thresholds: about 1000 faults a step (its ~4 MiB of arrays, page by page).
    assert faults < 100, f"{faults:.0f} page faults per step"
