"""Finite differences: see the package `oracle.fd` (this module keeps the old import path)."""

from .fd import *  # noqa: F401,F403
from .fd import __all__  # noqa: F401
