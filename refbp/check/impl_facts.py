"""What refbp needs to know of an `--impl` before any work: that it imports and names a callable
factory (else AdapterError: a usage error, exit 2), its version, and the network kinds its
factory says it supports. With a timeout it is learnt in a guarded worker
(refbp.parallel.guarded), so that the user's module never runs in refbp's own process: an
import that exits, hangs or prints cannot end refbp, hang it or garble its stdout.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass

from .adapter import AdapterError, implementation_version, load_factory


@dataclass(frozen=True)
class ImplFacts:
    spec: str
    problem: str = ""  # why it cannot be used (AdapterError's text), "" when it can
    version: str = ""  # its module's or package's __version__
    kinds: object = None  # the factory's `kinds` as given (refbp.fuzz.kinds reads it); None: not given
    capabilities: object = None  # the factory's `capabilities` as given (refbp.fuzz.capabilities reads it)


def implementation_facts(spec: str, timeout: float | None = None) -> ImplFacts:
    """The facts of `spec`; AdapterError when it cannot be used. `timeout`: learnt in a guarded
    worker, the import limited to that many seconds (None: in this process)."""
    if timeout is None:
        facts = facts_here(spec)
    else:
        from ..parallel.guarded import run_guarded
        from ..parallel.units import UnitFailed

        facts = run_guarded(facts_here, spec, timeout)
        if isinstance(facts, UnitFailed):
            raise AdapterError(f"--impl {spec!r}: {facts.reason}")
    if facts.problem:
        raise AdapterError(facts.problem)
    return facts


def facts_here(spec: str) -> ImplFacts:
    """The facts, found in this process (module-level: what a guarded worker runs)."""
    try:
        factory = load_factory(spec)
    except AdapterError as exc:
        return ImplFacts(spec, problem=str(exc))
    own = getattr(factory, "__wrapped__", factory)
    kinds, capabilities = getattr(own, "kinds", None), getattr(own, "capabilities", None)
    try:
        pickle.dumps((kinds, capabilities))
    except Exception:  # only to be refused by refbp.fuzz.kinds: its text will do
        kinds, capabilities = repr(kinds), repr(capabilities)
    return ImplFacts(spec, version=implementation_version(factory), kinds=kinds, capabilities=capabilities)
