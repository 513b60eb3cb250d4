"""refbp.memory.keep_freed_memory: freed arrays are reused, not faulted in again (page faults
counted by the kernel in a fresh process; no timing). On a C library without mallopt it says so."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

CODE = """
import resource, sys
import numpy as np
from refbp.memory import keep_freed_memory
kept = keep_freed_memory() if sys.argv[1] == "keep" else None
a = np.ones((256, 256))
for _ in range(20):  # a step's worth of fresh 512 KB arrays, then freed
    [a * 2.0 for _ in range(4)]
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(200):
    [a * 2.0 for _ in range(4)]
print(kept, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str):
    out = subprocess.run([sys.executable, "-c", CODE, mode], capture_output=True, text=True, check=True).stdout.split()
    return out[0], int(out[1])


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt's thresholds are glibc's")
def test_freed_arrays_are_reused_not_faulted_in_again():
    kept, with_keep = _faults("keep")
    _, without = _faults("plain")
    assert kept == "True"
    # 800 arrays of 128 pages: glibc's default returns each to the system at free().
    assert without > 800 * 64, f"glibc's default no longer faults freed arrays in again ({without} faults)"
    assert with_keep < without / 50, (with_keep, without)
