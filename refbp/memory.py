"""Process-wide memory setting: glibc's malloc keeps freed memory (`keep_freed_memory`).

Touches nothing but the C library's allocator parameters; the command line calls it once at
start, and a program that runs refbp.nn's steps in a loop may call it too.
"""

from __future__ import annotations

import ctypes

# glibc's mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD_MAX = 32 * 2**20  # glibc refuses more on 64-bit systems
_KEPT_BYTES = 256 * 2**20


def keep_freed_memory() -> bool:
    """Let glibc's malloc keep freed memory for the next arrays instead of returning it to the
    system (True where that was set: glibc only). A training step allocates and frees the
    same arrays every time; by default glibc gives each one of a few hundred KB back at
    free() and the next step faults every page of it in again, which cost about 40% of a
    784-256-256-10 step (docs/performance.md, "bench batch"). Process-wide: refbp's command
    line calls it at start; a program using refbp.nn may call it too. Up to 256 MiB of
    freed memory is kept; arrays over 32 MiB are still mapped and unmapped one by one."""
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library this process runs on; glibc and musl have it
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX)) and bool(mallopt(_M_TRIM_THRESHOLD, _KEPT_BYTES))
