"""`matmul(xp, a, b)`: the rows of `a @ b` shared between the cores, each share one single-threaded product.

Why: the rows of a product are independent (the seed: the examples of a batch, and the neurons
of one layer, parallelise). numpy's BLAS threads its own products, but on the medium products of
a batch step (a few hundred rows) it gains little from a second core and, on a machine shared
with other work, its threads stall at their barriers (docs/performance.md, "bench batch").
Here each core takes a block of rows of `a` (examples for `x @ W.T` and `grad_net @ W`; a
layer's neurons for `grad_net.T @ x`, so a weight gradient's sum over the batch is never split)
and computes its block of the result with BLAS set to one thread, into its slice of one array.

The result equals the single product to rounding: each entry is the same sum, but BLAS may
block the inner sum differently for a different number of rows (as it does for a different
number of its own threads).

It follows the BLAS thread setting in force: with BLAS at one thread (OPENBLAS_NUM_THREADS=1,
threadpoolctl's limits, refbp.check's finite differences, one-thread workers of refbp.parallel)
it is a plain `a @ b` and starts no thread; with N threads it uses at most N shares (never more
than the cores). Off numpy (torch tensors), or without threadpoolctl, it is `a @ b`.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import heap

try:
    import threadpoolctl
except ImportError:  # optional: without it every product is a plain a @ b
    threadpoolctl = None

# Below this many multiply-adds OpenBLAS keeps a product on one thread itself (interface/gemm.c:
# 65536 x GEMM_MULTITHREAD_THRESHOLD 4): nothing to decide, not even the thread count to ask.
BLAS_THREADS_FROM = 2**18
# Below this many a product is over before a second thread has woken up.
MIN_MULTIPLY_ADDS = 2**22
# No share smaller than this many rows (BLAS kernels work on blocks of 8-16 rows).
MIN_ROWS_PER_SHARE = 16

_pool: ThreadPoolExecutor | None = None
_blas: list | None = None  # threadpoolctl's controllers of the loaded BLAS libraries
# One parallel product at a time per process: the BLAS thread setting it changes is global.
_busy = threading.Lock()


def core_count() -> int:
    """The cores this process may run on (its CPU affinity where the system tells it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def blas_controllers() -> list:
    global _blas
    if _blas is None:
        _blas = [] if threadpoolctl is None else [
            lib for lib in threadpoolctl.ThreadpoolController().lib_controllers if lib.user_api == "blas"]
    return _blas


def blas_threads() -> int:
    """The threads numpy's BLAS may use now (1 when no BLAS library can be asked)."""
    libraries = blas_controllers()
    return min((lib.num_threads for lib in libraries), default=1)


def shares(a, b, threads: int) -> int:
    """Into how many blocks of rows `a @ b` is cut when BLAS may use `threads` threads: 1 for a
    small product (one BLAS thread), 0 for a large one with too few rows to cut (BLAS's threads)."""
    if a.size * b.shape[1] < MIN_MULTIPLY_ADDS:
        return 1
    rows = a.size // a.shape[-1]  # every row of every slice of a [n, ..., k] `a`
    count = min(threads, core_count(), a.shape[0], rows // MIN_ROWS_PER_SHARE)
    return count if count >= 2 else 0


def matmul(xp, a, b):
    """`a @ b` (`a` [n, ..., k], `b` [k, m]), the first axis of `a` split between the cores."""
    if xp is not np or a.ndim < 2 or b.ndim != 2 or a.size * b.shape[1] < BLAS_THREADS_FROM:
        return a @ b
    heap.keep_freed_memory()  # from the first large product on: its arrays are worth keeping
    threads = blas_threads()
    count = shares(a, b, threads) if threads > 1 else 0
    # A product BLAS threads itself (BLAS limited to one thread; a large product of few rows),
    # or another thread's parallel product under way (the BLAS setting is the process's).
    if count == 0 or not _busy.acquire(blocking=False):
        return a @ b
    try:
        # Small products too run on one BLAS thread: BLAS's own threads, once woken, spin for a
        # while after the product and would take the core that the next parallel product needs.
        with one_blas_thread():
            if count == 1:
                return a @ b
            out = np.empty(a.shape[:-1] + b.shape[1:], dtype=np.result_type(a, b))
            edges = [round(i * a.shape[0] / count) for i in range(count + 1)]
            blocks = [slice(start, stop) for start, stop in zip(edges[:-1], edges[1:])]
            others = [_thread_pool().submit(np.matmul, a[rows], b, out=out[rows]) for rows in blocks[1:]]
            np.matmul(a[blocks[0]], b, out=out[blocks[0]])
            for share in others:
                share.result()
            return out
    finally:
        _busy.release()


class one_blas_thread:
    """BLAS at one thread in the `with` block (threadpoolctl's limit without its library search
    at every call), then each library's own setting again."""

    def __enter__(self):
        self.saved = [(lib, lib.num_threads) for lib in blas_controllers()]
        for lib, _ in self.saved:
            lib.set_num_threads(1)

    def __exit__(self, *exc):
        for lib, threads in self.saved:
            lib.set_num_threads(threads)


def _thread_pool() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=max(1, core_count() - 1), thread_name_prefix="refbp-cores")
    return _pool


def _forget_pool_in_child() -> None:
    # A forked child has none of its parent's threads: a pool inherited from the parent would
    # wait for them forever. The child starts its own when it first needs one.
    global _pool, _busy
    _pool, _busy = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_in_child)
