"""What every executor shares: the result of a unit that could not be run, and the reordering
of results that finish in any order into input order."""

from __future__ import annotations

from dataclasses import dataclass

DASK_SCHEME = "dask://"


@dataclass(frozen=True)
class UnitFailed:
    """The result of a unit that produced none: its worker died twice, the cluster gave up on
    it, or it raised. `reason` is one line, for the caller to name the unit with."""

    reason: str


class ExecutorUnreachable(RuntimeError):
    """The executor named cannot be reached (no scheduler at the address): nothing was run."""


def in_order(finished, count: int):
    """(index, result) pairs in any order -> the same pairs in index order, each yielded as
    soon as every one before it has arrived."""
    waiting: dict[int, object] = {}
    following = 0
    try:
        for index, result in finished:
            waiting[index] = result
            while following in waiting:
                yield following, waiting.pop(following)
                following += 1
    except KeyboardInterrupt as exc:  # the results that came ahead of their turn, for a caller that keeps them
        exc.held = dict(waiting)  # type: ignore[attr-defined]  # read by the caller that keeps them
        raise
    finally:  # stopped early (Ctrl-C, an error): an executor's generator stops its workers now
        getattr(finished, "close", lambda: None)()
    if following != count:  # an executor lost a unit: never silently
        raise RuntimeError(f"units {following}..{count - 1} never finished")
