"""Inside a worker: how many cores there are, how many threads each worker's BLAS, OpenMP and
torch may use, and running one unit at a time per worker process.

N workers that each let BLAS and torch start one thread per core run N x cores threads on
`cores` cores: they then spend their time waiting for each other. Each worker gets
`cores // N` threads (at least 1) instead.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)

# Kept alive for the worker's lifetime: threadpoolctl's limits last while this object does.
_LIMITS: list[object] = []
# A Dask worker may run several tasks at once in threads; a check keeps work arrays from one
# case to the next (refbp.perturbed), so one process checks one case at a time.
ONE_UNIT_AT_A_TIME = threading.Lock()


def core_count() -> int:
    """The cores this process may run on (its CPU affinity where the system tells it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def parse_jobs(text: str | int) -> int:
    """`--jobs`: a positive whole number, or "auto" for the core count; ValueError otherwise."""
    if str(text).strip().lower() == "auto":
        return core_count()
    try:
        jobs = int(str(text).strip())
    except ValueError:
        raise ValueError(f"--jobs {text}: expected a positive whole number or auto") from None
    if jobs < 1:
        raise ValueError(f"--jobs {text}: expected a positive whole number or auto")
    return jobs


def threads_per_worker(jobs: int) -> int:
    return max(1, core_count() // max(1, jobs))


def limit_threads(threads: int) -> None:
    """Limit this process's BLAS, OpenMP and torch threads. The environment variables reach
    libraries loaded from now on; threadpoolctl and torch.set_num_threads those already loaded."""
    for variable in THREAD_VARIABLES:
        os.environ[variable] = str(threads)
    if "numpy" in sys.modules:
        try:
            import threadpoolctl

            _LIMITS.append(threadpoolctl.threadpool_limits(limits=threads))
        except ImportError:  # optional: the variables above then limit only what loads later
            pass
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


def prepare_local_worker(threads: int, environment: dict) -> None:
    """The initializer of a local worker process: the environment of the run that started it
    (a worker forked from the fork server would otherwise have the server's, from when it
    started), its thread limit, and Ctrl-C left to the parent (which stops the workers itself),
    so that a worker prints no traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.clear()
    os.environ.update(environment)
    limit_threads(threads)
