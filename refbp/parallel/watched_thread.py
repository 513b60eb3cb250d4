"""A unit run in a thread of the current process with each call into the implementation timed:
the guard for a user's implementation on a Dask cluster (`check --impl --executor`), whose worker
processes cannot start guarded worker processes of their own.

The unit's calls into the implementation are shown on a board (refbp.parallel.watch) that this
thread reads every POLL seconds; a call older than `timeout` gives the unit's UnitFailed at once,
naming the call, and the run goes on (the hung thread is left behind in the cluster's worker,
which holds it until that worker ends). An exit or an interrupt raised inside a call is that
unit's failure. What the implementation prints goes to the cluster worker's output, never to
refbp's. An os._exit or a crash ends the cluster's worker: Dask's own retries, then a failure
naming the case (refbp.parallel.dask_cluster).
"""

from __future__ import annotations

import threading
import time

from .guarded import POLL
from .guarded_worker import call_on
from .units import UnitFailed


def watched_unit(fn, timeout: float, unit):
    """fn(unit), or a UnitFailed when a call into the implementation overran `timeout`, exited or was
    interrupted."""
    from . import watch

    board = [0, 0.0]
    watch.install(board)
    outcome: dict = {}

    def run():
        try:
            outcome["result"] = fn(unit)
        except BaseException as exc:  # an ImplementationFault (an exit inside a call), or refbp's own error
            outcome["result"] = UnitFailed(
                str(exc) if isinstance(exc, watch.ImplementationFault) else f"raised {type(exc).__name__}: {exc}"
            )

    thread = threading.Thread(target=run, name="refbp-watched-unit", daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(POLL)
        start = board[1]
        call = call_on(board)
        if call and board[1] == start and start > 0 and time.monotonic() - start > timeout:
            what = "importing the implementation" if call == "import" else f"the implementation's {call}()"
            return UnitFailed(
                f"{what} did not finish within {timeout:g} s (--timeout): left running on the cluster's worker"
            )
    return outcome["result"]
