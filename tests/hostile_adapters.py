"""Adapters (`refbp check --impl tests/hostile_adapters.py:NAME`) that misbehave inside a call:
examples/numpy_mlp.py, except that in gradients() of the case named by $REFBP_HOSTILE_CASE
(default fiqlab-2-2-1-sigmoid; `all`: every case) each one does what its name says:

- exit_0, exit_1, exit_none: sys.exit(0), sys.exit(1), sys.exit()
- raise_system_exit: raise SystemExit (no code)
- os_exit_0: os._exit(0), as if the process ended normally
- hang: an infinite loop
- interrupt: raise KeyboardInterrupt, as if Ctrl-C had been pressed
- print_flood: prints (to stdout, through print and through the file descriptor) in every call of every case
- slow: sleeps $REFBP_HOSTILE_SLOW seconds (default 1) in the factory of every case, and
  leaves a file named by the case in the folder $REFBP_TEST_STARTED (when set) as it starts one
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from refbp.check.adapter import load_factory

CORRECT = load_factory(f"{Path(__file__).resolve().parents[1] / 'examples' / 'numpy_mlp.py'}:factory")
DEFAULT_CASE = "fiqlab-2-2-1-sigmoid"


def _targeted(case: dict) -> bool:
    wanted = os.environ.get("REFBP_HOSTILE_CASE", DEFAULT_CASE)
    return wanted == "all" or case["id"] == wanted


class _Misbehaving:
    """The correct implementation, with `act()` run at the start of gradients()."""

    def __init__(self, inner, act):
        self._inner, self._act = inner, act

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def gradients(self, params, inputs, targets):
        self._act()
        return self._inner.gradients(params, inputs, targets)


def _hostile(act):
    def factory(case: dict):
        inner = CORRECT(case)
        if inner is None or not _targeted(case):
            return inner
        return _Misbehaving(inner, act)

    factory.kinds = ("mlp",)
    return factory


def _forever():
    while True:
        pass


def _interrupt():
    raise KeyboardInterrupt


def _raise_system_exit():
    raise SystemExit


exit_0 = _hostile(lambda: sys.exit(0))
exit_1 = _hostile(lambda: sys.exit(1))
exit_none = _hostile(lambda: sys.exit())
raise_system_exit = _hostile(_raise_system_exit)
os_exit_0 = _hostile(lambda: os._exit(0))
hang = _hostile(_forever)
interrupt = _hostile(_interrupt)


class _Printing:
    """Every call prints a flood of lines before answering."""

    def __init__(self, inner):
        self._inner = inner

    def __getattr__(self, name):
        value = getattr(self._inner, name)
        if not callable(value):
            return value

        def noisy(*args):
            print(f"{name}: hello from the implementation\n" * 200, end="")
            os.write(1, b"written straight to file descriptor 1\n")
            return value(*args)

        return noisy


def print_flood(case: dict):
    print("the factory prints too")
    inner = CORRECT(case)
    return None if inner is None else _Printing(inner)


print_flood.kinds = ("mlp",)


def slow(case: dict):
    if os.environ.get("REFBP_TEST_STARTED"):
        (Path(os.environ["REFBP_TEST_STARTED"]) / case["id"]).touch()
    time.sleep(float(os.environ.get("REFBP_HOSTILE_SLOW", "1")))
    return CORRECT(case)


slow.kinds = ("mlp",)
