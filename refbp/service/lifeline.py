"""A server worker dies with its supervisor. `refbp serve --workers N` runs uvicorn's supervisor
in the process it started as; if that process is killed (kill -9 leaves it no time to stop its
workers), an orphaned worker would go on serving on the shared socket, and a restart would
fail with "Address already in use". So each worker asks the kernel for SIGTERM when its
parent dies (Linux's PR_SET_PDEATHSIG) and, on any system, watches its parent's pid.
"""

from __future__ import annotations

import ctypes
import os
import signal
import threading

# `refbp serve` names its own pid here: a process whose pid differs is one of its workers.
SUPERVISOR_VARIABLE = "REFBP_SERVE_SUPERVISOR_PID"
PR_SET_PDEATHSIG = 1
WATCH_SECONDS = 1.0


def follow_parent() -> bool:
    """In a worker of `refbp serve` (not in the server's own process): end this process when its
    supervisor ends. True when it is a worker."""
    supervisor = os.environ.get(SUPERVISOR_VARIABLE, "")
    if not supervisor.isdigit() or int(supervisor) == os.getpid():
        return False
    parent = int(supervisor)
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the watching thread below does it alone
        pass
    if os.getppid() != parent:  # the supervisor died before the request above was made
        _end()

    def watch():
        stop = threading.Event()
        while not stop.wait(WATCH_SECONDS):
            if os.getppid() != parent:
                _end()

    threading.Thread(target=watch, name="refbp-lifeline", daemon=True).start()
    return True


def _end() -> None:
    """SIGTERM to this process (uvicorn stops gracefully), then SIGKILL if still alive 10 s later."""
    os.kill(os.getpid(), signal.SIGTERM)
    killer = threading.Timer(10.0, lambda: os.kill(os.getpid(), signal.SIGKILL))
    killer.daemon = True
    killer.start()
