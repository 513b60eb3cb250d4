"""Watching the calls into a user's implementation from inside a guarded worker
(refbp.parallel.guarded): which call runs since when, on the board refbp's process reads to
time it, and an exit or an interrupt raised inside a call turned into that call's fault.

Outside a guarded worker (no board installed: the pytest plugin, a Dask worker, a library
caller) nothing is watched: `watched(factory)` is the factory itself and `call` just calls.
"""

from __future__ import annotations

import time
from typing import Any

# The calls of the adapter protocol (docs/formats.md section 8), and the import of its module.
CALLS = (
    "",
    "import",
    "factory",
    "forward",
    "loss",
    "gradients",
    "train",
    "intermediates",
    "error_signals",
    "loss_batch",
)
CODES = {name: code for code, name in enumerate(CALLS) if name}


def call_on(board) -> str:
    """The call running according to `board` ("" when none)."""
    code = int(board[0])
    return CALLS[code] if 0 < code < len(CALLS) else ""


def in_call(call: str) -> str:
    """`in gradients()`, or `while its module was imported`."""
    return "while its module was imported" if call == "import" else f"in {call}()"


def during(call: str) -> str:
    """`during gradients()`, or `during the import of its module`."""
    return "during the import of its module" if call == "import" else f"during {call}()"


_board = None


class ImplementationFault(BaseException):
    """The implementation exited (sys.exit, SystemExit) or raised KeyboardInterrupt (or another
    BaseException) inside a call. A BaseException, so that it passes refbp's `except Exception`
    (which make a raising implementation a failed check) up to the worker's loop, which reports
    its text as the unit's failure."""


def install(board) -> None:
    """Watch the calls of this process on `board` (a guarded worker, once)."""
    global _board
    _board = board


def call(name: str, fn, *args):
    """fn(*args), watched as the implementation's call `name` (one of guarded_worker.CALLS)."""
    board = _board
    if board is None:
        return fn(*args)
    outer = board[0], board[1]  # a call inside a call (an adapter that wraps another): the outer one goes on after
    board[1] = time.monotonic()
    board[0] = CODES[name]
    try:
        return fn(*args)
    except (Exception, ImplementationFault):
        raise
    except BaseException as exc:
        raise ImplementationFault(fault_text(exc, name)) from None
    finally:
        board[1] = outer[1]
        board[0] = outer[0]


def fault_text(exc: BaseException, name: str) -> str:
    """`the implementation called sys.exit(0) in gradients()`, and the like."""
    if isinstance(exc, SystemExit):
        what = "called sys.exit()" if exc.code is None else f"called sys.exit({exc.code!r})"
    else:
        line = (str(exc).strip().splitlines() or [""])[0][:200]
        what = f"raised {type(exc).__name__}" + (f" ({line})" if line else "")
    return f"the implementation {what} {in_call(name)}"


def watched(factory: Any) -> Any:
    """The factory, its calls and its implementations' calls watched (itself outside a guarded worker)."""
    return factory if _board is None else WatchedFactory(factory)


class WatchedFactory:
    """A factory whose calls, and whose implementations' calls, are watched; its other attributes
    (`kinds`) are the factory's own."""

    def __init__(self, factory):
        self.__wrapped__ = factory

    def __call__(self, case):
        made = call("factory", self.__wrapped__, case)
        return None if made is None else WatchedImplementation(made)

    def __getattr__(self, name):
        return getattr(self.__wrapped__, name)


class WatchedImplementation:
    """An implementation whose protocol methods (forward, loss, gradients, ...) are watched."""

    def __init__(self, implementation):
        self.__wrapped__ = implementation

    def __getattr__(self, name):
        value = getattr(self.__wrapped__, name)
        if name in CODES and callable(value):
            return lambda *args: call(name, value, *args)
        return value
