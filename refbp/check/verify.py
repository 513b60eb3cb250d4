"""Verdicts for the results of another implementation (`refbp verify`).

The result's numbers are compared with the torch reference, with finite differences of the
torch reference's loss (the definition, never the code under test) and with the case's
published values. Only what the result provides is judged; the rest is "not provided".
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

from cases import SUITE_DIR, CaseError, discover, load_case

from .check_case import ORACLES, Implementation, check_case
from .results import read_results, result_trace
from .suite import SuiteRun
from .verdict import CaseVerdict


def load_suite(case_paths=None) -> tuple[dict, list[CaseVerdict]]:
    """Cases by id; bad case files become input-error verdicts."""
    by_id, bad = {}, []
    for path in discover(case_paths or [SUITE_DIR]):
        try:
            case = load_case(path)
        except CaseError as exc:
            bad.append(CaseVerdict(case=path.stem, implementation="", passed=False, errors=[str(exc)],
                                   path=str(path), error_kind="input"))
            continue
        by_id.setdefault(case.id, case)
    return by_id, bad


def verify_results(result_paths, case_paths=None, oracles=ORACLES, fd_method: str | None = None) -> SuiteRun:
    from oracle.torch_loss import loss_function as reference_loss_function

    run = SuiteRun(started=datetime.now(timezone.utc).isoformat(timespec="seconds"), oracles=tuple(oracles))
    start = time.perf_counter()
    suite, bad_cases = load_suite(case_paths)
    run.verdicts.extend(bad_cases)
    for path in result_paths:
        try:
            results = read_results(path)
        except CaseError as exc:
            run.verdicts.append(CaseVerdict(case=str(path), implementation="", passed=False, errors=[str(exc)],
                                            path=str(path), error_kind="input"))
            continue
        for result in results:
            run.verdicts.append(_verify_one(result, suite, oracles, fd_method, reference_loss_function))
    run.implementation = ", ".join(sorted({v.implementation for v in run.verdicts if v.implementation}))
    run.seconds = time.perf_counter() - start
    return run


def _verify_one(result, suite, oracles, fd_method, reference_loss_function) -> CaseVerdict:
    def bad(message):
        return CaseVerdict(case=result.case, implementation=result.implementation, passed=False,
                           errors=[message], path=str(result.path), error_kind="input")

    case = suite.get(result.case)
    if case is None:
        known = ", ".join(sorted(suite)[:8]) + (" ..." if len(suite) > 8 else "")
        return bad(f"{result.path}: {result.where}case: unknown case {result.case!r} (known: {known})")
    try:
        trace, not_provided, provided = result_trace(result, case)
    except CaseError as exc:
        return bad(str(exc))
    implementation = Implementation(result.implementation, lambda _case: trace, reference_loss_function)
    verdict = check_case(case, implementation, oracles, fd_method=fd_method)
    # Judge only what the result provides; intermediates and input gradients are not part of a result.
    every_grad = all(("grads", name) in provided for name in case.params)
    verdict.checks = [c for c in verdict.checks if (c.quantity, c.tensor) in provided
                      or (c.method == "directional" and every_grad)]  # one row over all gradients
    verdict.not_provided = not_provided
    verdict.path = str(result.path)
    verdict.passed = bool(verdict.checks) and all(c.passed for c in verdict.checks)
    if not verdict.checks:
        verdict.errors.append(f"{result.path}: {result.where.rstrip('.') or 'result'}: provides no quantity "
                              f"that can be checked (not provided: {', '.join(not_provided)})")
    return verdict
