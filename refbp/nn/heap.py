"""`keep_freed_memory()`: freed arrays stay in the process for the next batch step (glibc's malloc).

A batch step allocates its arrays (nets, outs, error signals, gradients: a few MiB for an
MLP 784-256-256-10 at batch 256) and frees them when it ends. By default glibc gives each block
above a threshold its own mapping, returned to the system when freed, and returns the free top
of its heap to the system beyond another threshold: the next step's arrays are then fresh
pages, and every 4 KiB page faults on first touch. On the project's VMs that was about a
thousand faults and a third of a single-threaded step (docs/performance.md, "bench batch").
With blocks up to MMAP_THRESHOLD taken from the heap and up to TRIM_THRESHOLD of free heap
kept, a step reuses the pages of the one before.

`cores.matmul` calls it at the process's first large product (2^18 multiply-adds or more):
a process that only checks small networks (the service, the suite's cases) keeps glibc's
defaults. Nothing changes where the user has tuned malloc (MALLOC_*_ variables,
GLIBC_TUNABLES) or the C library is not glibc.
"""

from __future__ import annotations

import ctypes
import os
import platform

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers (malloc.h)
MMAP_THRESHOLD = 32 * 2**20  # glibc's largest allowed value on 64-bit systems
TRIM_THRESHOLD = 128 * 2**20  # the most free memory kept at the top of the heap
USER_SETTINGS = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_",
                 "GLIBC_TUNABLES")

_done = False


def keep_freed_memory() -> bool:
    """Set the two thresholds once per process; True when they are (now or before) set."""
    global _done
    if _done:
        return True
    if platform.libc_ver()[0] != "glibc" or any(v in os.environ for v in USER_SETTINGS):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    _done = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _done
