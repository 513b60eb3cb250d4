"""Verdicts for the results of another implementation (`refbp verify`).

The result's numbers are compared with the torch reference, with finite differences of the
torch reference's loss (the definition, never the code under test) and with the case's
published values. Only what the result provides is judged; the rest is "not provided".
A wrong answer (value, shape, NaN, infinity, null) is a failed check; a file that cannot be
read as the format, an unknown case id or a second result for one case is bad input.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

from oracle.torch_loss import loss_function as reference_loss_function

from cases import CaseError, discover

from .check_case import ORACLES, Implementation, check_case
from .results import read_results, result_trace, wrong_answer_rows
from .suite import SuiteRun, input_error, load_cases
from .verdict import CaseVerdict

# The torch reference has no complex-capable forward: the complex step is refused for verify.
UNSUPPORTED_FD_METHODS = {"complex": "the torch reference has no complex-capable forward; use central, "
                                     "richardson, directional or sampled"}


def load_suite(case_paths=None) -> tuple[dict, list[CaseVerdict], list[str]]:
    """Cases by id; bad case files become input-error verdicts; notes of cases found twice."""
    loaded = load_cases(case_paths)
    return {case.id: case for case in loaded.cases}, loaded.bad, loaded.notes


def verify_results(result_paths, case_paths=None, oracles=ORACLES, fd_method: str | None = None) -> SuiteRun:
    if fd_method in UNSUPPORTED_FD_METHODS:
        raise ValueError(f"--fd-method {fd_method}: {UNSUPPORTED_FD_METHODS[fd_method]}")
    run = SuiteRun(started=datetime.now(timezone.utc).isoformat(timespec="seconds"), oracles=tuple(oracles),
                   searched=tuple(result_paths))
    start = time.perf_counter()
    suite, bad_cases, run.notes = load_suite(case_paths)
    run.verdicts.extend(bad_cases)
    unreadable: list[CaseError] = []
    judged: dict[str, str] = {}  # case id -> the result that was judged for it
    for path in discover(result_paths, unreadable):
        try:
            results = read_results(path)
        except CaseError as exc:
            run.verdicts.append(input_error(path, str(exc), case=str(path)))
            continue
        run.verdicts += judge_results(results, suite, oracles, fd_method, judged)
    run.verdicts += [input_error(e.path, str(e), case=str(e.path)) for e in unreadable]
    run.implementation = ", ".join(sorted({v.implementation for v in run.verdicts if v.implementation}))
    run.seconds = time.perf_counter() - start
    return run


def judge_results(results, suite: dict, oracles=ORACLES, fd_method: str | None = None,
                  judged: dict | None = None) -> list[CaseVerdict]:
    """A verdict per parsed result (refbp.check.results.results_in) against the cases `suite`
    (by id); a second result for a case already in `judged` (case id -> label) is bad input."""
    judged = {} if judged is None else judged
    verdicts = []
    for result in results:
        if result.case in judged:
            verdicts.append(input_error(result.path, f"{result.path}: {result.where}case: a second result "
                                        f"for {result.case!r} (the first: {judged[result.case]})",
                                        case=result.case, implementation=result.implementation))
            continue
        judged[result.case] = result.label()
        verdicts.append(_verify_one(result, suite, oracles, fd_method))
    return verdicts


def _verify_one(result, suite, oracles, fd_method) -> CaseVerdict:
    def bad(message):
        return input_error(result.path, message, case=result.case, implementation=result.implementation)

    case = suite.get(result.case)
    if case is None:
        known = ", ".join(sorted(suite)[:8]) + (" ..." if len(suite) > 8 else "")
        return bad(f"{result.path}: {result.where}case: unknown case {result.case[:60]!r} (known: {known})")
    try:
        read = result_trace(result, case)
    except CaseError as exc:
        return bad(str(exc))
    implementation = Implementation(result.implementation, lambda _case: read.trace, reference_loss_function)
    verdict = check_case(case, implementation, oracles, fd_method=fd_method)
    # Judge only what the result provides; intermediates and input gradients are not part of a result.
    every_grad = all(("grads", name) in read.provided for name in case.params)
    verdict.checks = [c for c in verdict.checks if (c.quantity, c.tensor) in read.provided
                      or (c.method == "directional" and every_grad)]  # one row over all gradients
    verdict.checks += wrong_answer_rows(read, case, oracles)
    verdict.not_provided = read.not_provided
    verdict.path = str(result.path)
    where = result.where.rstrip(".") or "result"
    if not verdict.checks and not verdict.errors and (read.provided or read.wrong):
        verdict.error_kind = "input"
        verdict.errors.append(f"{result.path}: {where}: --oracle {','.join(oracles)}: nothing to check (no chosen "
                              f"reference judges what the result provides)")
    elif not verdict.checks and not verdict.errors:
        verdict.errors.append(f"{result.path}: {where}: provides no quantity that can be checked "
                              f"(not provided: {', '.join(read.not_provided)})")
    verdict.passed = bool(verdict.checks) and all(c.passed for c in verdict.checks) and not verdict.errors
    return verdict
