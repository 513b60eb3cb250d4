"""Units of work on a Dask cluster (`--executor dask://HOST:PORT`; `pip install 'refbp[cluster]'`).

Dask does the scheduling, the transport and the rescheduling of a task whose worker died;
refbp only submits `run_counted(fn, unit, ...)` per unit (fn pickled by reference: the workers
import it from their own installed refbp) and reads the results back in input order. The
workers need `pip install refbp` (with the extra) and nothing else.

Retried once, whatever the scheduler's `allowed-failures` says: each start of a unit is
counted in a Dask Variable on the scheduler (the count outlives a worker that dies) until it
finishes, and a third unfinished start gives a `UnitFailed` instead of running the unit; a unit the scheduler gave up on
(KilledWorker: allowed-failures 0 or 1) is submitted once more, to meet that count. Units that
were only queued on a dying worker never started, so they are not blamed.
"""

from __future__ import annotations

import uuid
from concurrent.futures import CancelledError

from distributed import Client, Variable, as_completed, get_client
from distributed.scheduler import KilledWorker

from .units import DASK_SCHEME, ExecutorUnreachable, UnitFailed, in_order
from .worker import ONE_UNIT_AT_A_TIME

# Seconds to wait for the scheduler to answer before saying it cannot be reached.
CONNECT_TIMEOUT = 10
# Starts of a unit before it is given up: the first death is retried, the second is the unit's.
STARTS_ALLOWED = 2


def iter_dask(fn, units: list, executor, order=None):
    """(index, result) in input order. `executor`: "dask://HOST:PORT", "tcp://HOST:PORT" or a
    distributed.Client (then left open for its owner); `order`: the indices, first to start first."""
    return in_order(_finished(fn, units, executor, list(order or range(len(units)))), len(units))


def connect(executor) -> tuple[Client, bool]:
    """The client, and whether refbp opened it (and so closes it)."""
    if isinstance(executor, Client):
        return executor, False
    address = str(executor)
    if address.startswith(DASK_SCHEME):
        address = "tcp://" + address[len(DASK_SCHEME) :]
    try:
        return Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False), True
    except OSError as exc:  # refused, unknown host, no answer in time
        raise ExecutorUnreachable(
            f"--executor {executor}: no Dask scheduler answers at {address} "
            f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
        ) from exc


def run_counted(fn, unit, starts_name: str):
    """On a worker: fn(unit), unless the unit has already started STARTS_ALLOWED times without
    finishing (its worker died each time): then a UnitFailed saying so."""
    with ONE_UNIT_AT_A_TIME:  # one unit at a time per worker process (refbp.parallel.worker)
        starts = Variable(starts_name, client=get_client())
        try:
            before = int(starts.get(timeout=0))
        except TimeoutError:  # never started before
            before = 0
        if before >= STARTS_ALLOWED:
            return UnitFailed(f"its worker process died {before} times while running it (retried once)")
        starts.set(before + 1)
        result = fn(unit)
        # Finished: this start is not a death. (Its result can still be lost with a worker that
        # dies later, and then be computed again: that must not count against it.)
        starts.set(before)
        return result


def _finished(fn, units: list, executor, order: list[int]):
    client, owned = connect(executor)
    # Unique keys: two runs on one cluster never share a result, and pure=False keeps Dask
    # from reusing one for equal arguments.
    run = uuid.uuid4().hex[:12]
    futures, resubmitted = {}, set()
    rank = {index: position for position, index in enumerate(order)}

    def submit(index: int, again: bool = False):
        # Dask starts the highest priority first: the order asked for, a resubmitted unit at once.
        priority = len(order) if again else len(order) - rank[index]
        future = client.submit(
            run_counted,
            fn,
            units[index],
            f"refbp-{run}-{index}-starts",
            key=f"refbp-{run}-{index}" + ("-again" if again else ""),
            pure=False,
            priority=priority,
        )
        futures[future] = index
        return future

    try:
        for index in order:
            submit(index)
        finished = as_completed(list(futures), loop=client.loop)
        for future in finished:
            index = futures.pop(future)
            try:
                result = future.result()
            except KilledWorker as error:
                if index not in resubmitted:  # the scheduler gave up before refbp's count did
                    resubmitted.add(index)
                    finished.add(submit(index, again=True))
                    future.release()
                    continue
                result = UnitFailed(
                    f"its worker process died again on the retry (the Dask scheduler gave up "
                    f"on it: {type(error).__name__})"
                )
            except (Exception, CancelledError) as error:
                result = UnitFailed(f"raised {type(error).__name__} on a Dask worker: {error}")
            future.release()
            yield index, result
    finally:  # normally, or Ctrl-C: nothing of this run is left on the cluster
        client.cancel(list(futures))
        for index in range(len(units)):
            Variable(f"refbp-{run}-{index}-starts", client=client).delete()
        if owned:
            client.close()
