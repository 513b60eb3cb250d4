"""Checking one case on a Python implementation given through the adapter protocol.

Its answers are compared with torch autograd in float64, with finite differences of the
case's loss (the definition, through refbp's fast forms of it: refbp.perturbed; never the
code under test), with the case's published values, and with finite differences of the
implementation's OWN loss (reference `own-forward-fd`, refbp.check.own_forward): a gradient
that fails against torch but matches its own forward points at a forward that is wrong too;
one that fails both points at the backward alone.

Everything that depends on the case alone (the torch reference, the definition's finite
differences) comes from refbp.check.reference_store: computed once per case, kept in
memory and the finite differences on disk, so that checking an implementation costs only
its own calls and the comparisons.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from refbp.cases import Case
from refbp.cases.fingerprint import case_hash

from ..diagnosis import diagnose_checks
from ..diagnosis.crash import crash_line
from ..perturbed import loss_forms
from . import reference_store
from .adapter import Declined, answer
from .check_case import ORACLES, Implementation, check_case
from .own_forward import NARROWED_METHODS, own_forward_checks, own_method
from .own_forward import REFERENCE as OWN_FORWARD_REFERENCE  # noqa: F401 (its name here until now)
from .own_loss import own_loss
from .precision import name_precision_findings, reconcile
from .verdict import CaseVerdict, ErrorKind


def check_adapter_case(
    case: Case,
    factory: Any,
    name: str,
    oracles: Sequence[str] = ORACLES,
    fd_method: str | None = None,
    conventions: str = "any",
    references: reference_store.ReferenceStore | None = None,
) -> CaseVerdict:
    """The verdict of `factory`'s implementation on `case`; Declined propagates (not supported).
    `references`: where the case's references are kept (default: this process's store)."""
    start = time.perf_counter()
    try:
        given = answer(factory, case)
    except Declined:
        raise
    except Exception as exc:  # the implementation raised: a failed case, the others go on
        return _crashed(case, name, exc, time.perf_counter() - start)
    references = references if references is not None else reference_store.shared()
    forms = loss_forms(case)  # the definition's: refbp's forward, in float64
    implementation = Implementation(name, lambda _case: given.trace, loss_forms=lambda _case: forms)
    fingerprint = case_hash(case)
    admissible = references.admissible(case, fingerprint, conventions)
    # Central differences unless asked (the definition's; refbp run's default would be the complex step).
    verdict = check_case(
        case,
        implementation,
        oracles,
        fd_method=fd_method or "central",
        references=references,
        conventions=conventions,
        admissible=admissible,
        fingerprint=fingerprint,
    )
    # Rows of what it gave, and failed rows of what it left out without declaring it (diagnosis
    # `missing`); what it declared not provided has no row: the verdict lists it (refbp.check.provided).
    every_grad = all(("grads", name) in given.provided for name in case.params)
    checks = [
        c
        for c in verdict.checks
        if (c.quantity, c.tensor) in given.provided | given.missing or (c.method == "directional" and every_grad)
    ]
    checks = [
        replace(c, note=MISSING_NOTE, checked=0, nondifferentiable=0) if (c.quantity, c.tensor) in given.missing else c
        for c in checks
    ]
    checks += given.wrong_rows(case, oracles)  # an unknown tensor, complex values: failed, as verify says
    # Truncated BPTT's gradient is not the derivative of the loss the implementation computes (the
    # states entering each chunk are held): finite differences of its own loss cannot judge it,
    # and the torch rows (torch's truncation) do.
    if "fd" in oracles and given.trace.grads and given.trace.loss is not None and not truncated_bptt(case):
        method = own_method(fd_method)
        try:
            loss = own_loss(factory, case)
            reference = (
                references.finite_difference(case, fingerprint, method, forms) if method in NARROWED_METHODS else None
            )
            own = own_forward_checks(
                case, given.trace, loss, forms, reference, method, admissible, judged_elsewhere="torch" in oracles
            )
            # Its own loss judges the tensors it gave: the others' rows are the torch rows' above.
            own = [
                c for c in own if ("grads", c.tensor) in given.provided or (c.method == "directional" and every_grad)
            ]
        except Exception as exc:
            return _crashed(case, name, exc, time.perf_counter() - start)
        # The forward's rows (diagnosed already) say whether the forward agrees with torch's.
        forward = [c for c in checks if c.quantity in ("outputs", "loss")]
        checks += diagnose_checks(case, given.trace, own + forward)[: len(own)]
    checks = reconcile(case, checks)  # low precision: where torch's own row cannot tell, neither can these
    checks = name_precision_findings(case, checks, admissible.variants[0].trace)
    return replace(
        verdict,
        checks=checks,
        not_provided=given.not_provided,
        passed=bool(checks) and all(c.passed for c in checks) and not verdict.errors,
        seconds=time.perf_counter() - start,
    )


MISSING_NOTE = "absent from its answer, and not declared not provided (factory.not_provided: docs/formats.md section 8)"


def truncated_bptt(case: Case) -> bool:
    k = getattr(case.network, "truncate", None)
    return case.network.kind == "rnn" and k is not None and bool(k) and case.steps is not None and k < case.steps


def _crashed(case: Case, name: str, exc: Exception, seconds: float) -> CaseVerdict:
    # One line, with the implementation's own file, line and last frames (refbp.diagnosis.crash).
    return CaseVerdict(
        case=case.id,
        implementation=name,
        passed=False,
        path=case.label(),
        title=case.title,
        network=case.network.describe(),
        dtype=case.dtype,
        seconds=seconds,
        error_kind=ErrorKind.CRASH,
        errors=[f"{case.label()}: the implementation raised {crash_line(exc)}"],
    )
