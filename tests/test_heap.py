"""refbp.nn.heap: from the first large product on, freed memory is kept for the next batch step
(glibc), so a repeated step touches no fresh pages; a user's own malloc settings are left alone."""

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


def _set_after(rows: int, env_extra: dict) -> str:
    """Whether the thresholds are set in a fresh process after a forward of `rows` examples of 784-256-10."""
    env = {k: v for k, v in os.environ.items() if k not in heap.USER_SETTINGS}
    env.update(env_extra, PYTHONPATH=str(REPO))
    code = ("import numpy as np, refbp.nn.heap as h\n"
            "from cases.model import MLPNetwork\nfrom refbp.nn import build_model\n"
            "before = h._done\n"
            "net = MLPNetwork(sizes=(784, 256, 10), activations=('relu', 'identity'))\n"
            "params = {k: np.ones(s) for k, s in net.param_shapes().items()}\n"
            f"build_model(net).forward(np, params, np.ones(({rows}, 784)))\n"
            "print(before, h._done)")
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True).stdout.strip()


@glibc_only
def test_the_first_large_product_sets_the_thresholds_unless_the_user_tuned_malloc():
    assert _set_after(256, {}) == "False True"
    assert _set_after(1, {}) == "False False"  # 200k multiply-adds: a small network's product
    assert _set_after(256, {"MALLOC_TRIM_THRESHOLD_": "131072"}) == "False False"
    assert _set_after(256, {"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=131072"}) == "False False"


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
