"""Inside a guarded worker (refbp.parallel.guarded): the loop that runs units, and the board on
which the worker shows which call into the user's implementation is running and since when.

The board is two shared doubles: [the call's code in CALLS (0: none), when it started
(time.monotonic, the same clock in every process)]. The worker writes it (refbp.parallel.watch);
refbp's process reads it to time the call, and to name the call a dead worker was in.
"""

from __future__ import annotations

import os
import sys
import threading

from .watch import CALLS, CODES, call_on, during, in_call  # noqa: F401 (the board's words, read by refbp.parallel.guarded)


def serve(conn, lifeline, board, threads: int, environment: dict, folder: str) -> None:
    """A worker's life: (fn, unit) in, ("ok", fn(unit)) or ("failed", one line) out, until refbp's
    process closes the pipe or kills it, in refbp's environment and current folder (`--impl
    pkg.module:factory` is imported from there). What the implementation prints goes to stderr:
    this process's stdout is its stderr, so that nothing it prints reaches refbp's stdout (--json)."""
    from . import watch
    from .worker import prepare_local_worker

    prepare_local_worker(threads, environment)  # Ctrl-C ignored (refbp's process stops the workers)
    os.chdir(folder)
    try:
        os.setpgid(0, 0)  # its own process group: stopping the worker stops what the implementation started
    except OSError:
        pass
    _end_with_refbp(lifeline)
    sys.stdout.flush()
    os.dup2(2, 1)
    watch.install(board)
    while True:
        try:
            fn, unit = conn.recv()
        except (EOFError, OSError):
            return
        board[0] = 0
        try:
            reply = ("ok", fn(unit))
        except watch.ImplementationFault as fault:  # an exit or an interrupt inside a call
            reply = ("failed", str(fault))
        except Exception as exc:
            reply = ("failed", f"raised {type(exc).__name__}: {_first_line(exc)}")
        except BaseException as exc:  # raised by the implementation's code outside the calls watched
            reply = ("failed", f"the implementation raised {type(exc).__name__} ({_first_line(exc) or 'no message'})")
        board[0] = 0
        _flush()
        try:
            conn.send(reply)
        except (EOFError, OSError):
            return
        except Exception as exc:  # a result that cannot be pickled
            conn.send(("failed", f"its result could not be sent back: {type(exc).__name__}: {_first_line(exc)}"))


def _end_with_refbp(lifeline) -> None:
    """Exit as soon as refbp's process ends, even in a call that hangs and even when refbp was
    killed outright: a thread waits on `lifeline`, a pipe whose other end only refbp's process holds."""

    def wait_for_the_end():
        try:
            lifeline.recv_bytes()
        except (EOFError, OSError):
            pass
        os._exit(1)

    threading.Thread(target=wait_for_the_end, name="refbp-lifeline", daemon=True).start()


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):
            pass


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [""])[0][:300]
