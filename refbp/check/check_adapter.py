"""Checking one case on a Python implementation given through the adapter protocol.

Its answers are compared with torch autograd in float64, with finite differences of the
torch reference's loss (the definition), with the case's published values, and with finite
differences of the implementation's OWN loss (reference `own-forward-fd`): a gradient that
fails against torch but matches its own forward points at a forward that is wrong too;
one that fails both points at the backward alone.
"""

from __future__ import annotations

import time

from cases import Case

from oracle.torch_loss import loss_function as reference_loss_function

from ..diagnosis import diagnose_checks
from ..loss_forms import LossForms
from .adapter import Declined, answer, own_loss_function
from .check_case import FRESH, ORACLES, Implementation, check_case, finite_difference_checks
from .verdict import CaseVerdict

OWN_FORWARD_REFERENCE = "own-forward-fd"


def check_adapter_case(case: Case, factory, name: str, oracles=ORACLES, fd_method: str | None = None,
                       conventions: str = "any") -> CaseVerdict:
    """The verdict of `factory`'s implementation on `case`; Declined propagates (not supported)."""
    start = time.perf_counter()
    try:
        given = answer(factory, case)
    except Declined:
        raise
    except Exception as exc:  # the implementation raised: a failed case, the others go on
        return _crashed(case, name, exc, time.perf_counter() - start)
    implementation = Implementation(name, lambda _case: given.trace, reference_loss_function)
    admissible = FRESH.admissible(case, "", conventions)
    verdict = check_case(case, implementation, oracles, fd_method=fd_method, conventions=conventions,
                         admissible=admissible)
    verdict.checks = [c for c in verdict.checks if (c.quantity, c.tensor) in given.provided
                      or (c.method == "directional" and given.trace.grads)]
    verdict.checks += given.wrong_rows(case, oracles)  # an unknown tensor, complex values: failed, as verify says
    if "fd" in oracles and given.trace.grads:
        try:
            own_loss = own_loss_function(factory, case)
            _, reference_probe = reference_loss_function(case)  # where the function has kinks is the case's
            own = finite_difference_checks(case, given.trace, LossForms(own_loss, reference_probe),
                                           None if fd_method == "complex" else fd_method, admissible=admissible,
                                           judged_elsewhere="torch" in oracles)
        except Exception as exc:
            return _crashed(case, name, exc, time.perf_counter() - start)
        for check in own:
            check.reference = OWN_FORWARD_REFERENCE
        diagnose_checks(case, given.trace, own + [c for c in verdict.checks if c.quantity in ("outputs", "loss")])
        verdict.checks += own
    verdict.not_provided = given.not_provided
    verdict.passed = bool(verdict.checks) and all(c.passed for c in verdict.checks) and not verdict.errors
    verdict.seconds = time.perf_counter() - start
    return verdict


def _crashed(case: Case, name: str, exc: Exception, seconds: float) -> CaseVerdict:
    summary = (str(exc).strip().splitlines() or [""])[0]
    return CaseVerdict(case=case.id, implementation=name, passed=False, path=case.label(), title=case.title,
                       network=case.network.describe(), dtype=case.dtype, seconds=seconds, error_kind="crash",
                       errors=[f"{case.label()}: the implementation raised {type(exc).__name__}: {summary}"])
