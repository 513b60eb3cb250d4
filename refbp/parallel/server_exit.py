"""Imported by the workers' fork server alone (refbp.parallel.local's preload): when refbp's
process ends, the idle server exits at once instead of tearing torch down.

The server is told of the end by its pipe from refbp's process and leaves by SystemExit, so
Python would run its whole shutdown: about 0.8 s with torch loaded, while it still holds the
command's stdout and stderr, so that `refbp run --jobs 2 | tee log` waited that long after
refbp was done. The server owns nothing to clean up (its workers have ended), so the last
exit handler flushes its streams and leaves.
"""

from __future__ import annotations

import atexit
import inspect
import os
import sys


def _leave_now() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):
            pass
    os._exit(0)


def _imported_by_the_fork_server() -> bool:
    """True only inside multiprocessing's fork server, importing its preload: any other process
    that imports this module (a tool listing modules) keeps its normal exit."""
    frame = inspect.currentframe()
    while frame is not None:
        code = frame.f_code
        if code.co_name == "main" and code.co_filename.endswith(os.path.join("multiprocessing", "forkserver.py")):
            return True
        frame = frame.f_back
    return False


if _imported_by_the_fork_server():
    # Registered last (at the end of the server's preload), so run first when the server exits.
    atexit.register(_leave_now)
