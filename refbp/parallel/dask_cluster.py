"""Units of work on a Dask cluster (`--executor dask://HOST:PORT`; `pip install 'refbp[cluster]'`).

Dask does the scheduling, the transport and the rescheduling of a task whose worker died;
refbp only submits `run_alone(fn, unit)` per unit (fn pickled by reference: the workers
import it from their own installed refbp) and reads the results back in input order. The
workers need `pip install refbp` (with the extra) and nothing else.
"""

from __future__ import annotations

import uuid
from concurrent.futures import CancelledError

from distributed import Client, as_completed
from distributed.scheduler import KilledWorker

from .units import DASK_SCHEME, ExecutorUnreachable, UnitFailed, in_order
from .worker import run_alone

# Seconds to wait for the scheduler to answer before saying it cannot be reached.
CONNECT_TIMEOUT = 10


def iter_dask(fn, units: list, executor):
    """(index, result) in input order. `executor`: "dask://HOST:PORT", "tcp://HOST:PORT" or a
    distributed.Client (then left open for its owner)."""
    return in_order(_finished(fn, units, executor), len(units))


def connect(executor) -> tuple[Client, bool]:
    """The client, and whether refbp opened it (and so closes it)."""
    if isinstance(executor, Client):
        return executor, False
    address = str(executor)
    if address.startswith(DASK_SCHEME):
        address = "tcp://" + address[len(DASK_SCHEME):]
    try:
        return Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False), True
    except OSError as exc:  # refused, unknown host, no answer in time
        raise ExecutorUnreachable(f"--executor {executor}: no Dask scheduler answers at {address} "
                                  f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from exc


def _finished(fn, units: list, executor):
    client, owned = connect(executor)
    # Unique keys: two runs on one cluster never share a result, and pure=False keeps Dask
    # from reusing one for equal arguments.
    run = uuid.uuid4().hex[:12]
    futures = {}
    try:
        for index, unit in enumerate(units):
            future = client.submit(run_alone, fn, unit, key=f"refbp-{run}-{index}", pure=False)
            futures[future] = index
        for future in as_completed(futures, loop=client.loop):
            try:
                result = future.result()
            except KilledWorker as error:
                result = UnitFailed(f"the Dask workers running it died (the scheduler gave up on it: "
                                    f"{type(error).__name__})")
            except (Exception, CancelledError) as error:
                result = UnitFailed(f"raised {type(error).__name__} on a Dask worker: {error}")
            future.release()
            yield futures[future], result
    finally:  # normally, or Ctrl-C: nothing of this run is left on the cluster
        client.cancel(list(futures))
        if owned:
            client.close()
