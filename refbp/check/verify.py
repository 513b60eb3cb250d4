"""Verdicts for the results of another implementation (`refbp verify`).

The result's numbers are compared with the torch reference, with finite differences of the
torch reference's loss (the definition, never the code under test) and with the case's
published values. Only what the result provides is judged; the rest is "not provided".
A wrong answer (value, shape, NaN, infinity, null) is a failed check; a file that cannot be
read as the format, an unknown case id or a second result for one case is bad input.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from functools import partial
from typing import Any

import numpy as np

from refbp.cases import Case, CaseError, discover, parse_case
from refbp.cases.dtypes import at_dtype
from refbp.oracle.torch_loss import loss_function as reference_loss_function

from ..nn import compute_trace
from ..parallel import UnitFailed, iter_units
from .check_case import ORACLES, Implementation, check_case
from .references import ReferenceCache
from .results import Result, answer_document, read_results, result_trace, results_in, wrong_answer_rows
from .suite import SuiteRun, input_error, interruptible, load_cases
from .units import crash_verdict
from .verdict import CaseVerdict, ErrorKind

# The torch reference has no complex-capable forward: the complex step is refused for verify.
UNSUPPORTED_FD_METHODS = {
    "complex": "the torch reference has no complex-capable forward; use central, richardson, directional or sampled"
}
# The references of a result depend on its case alone: the torch trace, and the finite
# differences of the torch reference's loss (never the answer's). One process judging many
# results of a case (the service, a folder of results) computes them once per case fingerprint.
REFERENCES = ReferenceCache()


def load_suite(case_paths: Any = None) -> tuple[dict[str, Case], list[CaseVerdict], list[str]]:
    """Cases by id; bad case files become input-error verdicts; notes of cases found twice."""
    loaded = load_cases(case_paths)
    return {case.id: case for case in loaded.cases}, loaded.bad, loaded.notes


@dataclass(frozen=True)
class ResultUnit:
    """One result to judge, as plain data for a worker: the result read from its file (its
    document, path and place in a bundle) and its case's document as written."""

    result: Result
    case_document: dict[str, Any]
    case_path: str
    oracles: tuple[str, ...]
    fd_method: str | None
    conventions: str = "any"


def verify_unit(unit: ResultUnit) -> CaseVerdict:
    """The verdict of one result; runs in a worker (module-level, so it is pickled by name)."""
    case = parse_case(unit.case_document, unit.case_path or None)
    return verify_against(unit.result, case, unit.oracles, unit.fd_method, conventions=unit.conventions)


def verify_results(
    result_paths: Sequence[Any],
    case_paths: Any = None,
    oracles: Sequence[str] = ORACLES,
    fd_method: str | None = None,
    jobs: int = 1,
    executor: Any = None,
    conventions: str = "any",
    progress: bool | None = False,
    keep_interrupted: bool = False,
) -> SuiteRun:
    """Verdicts for every result under `result_paths`, in the order found; with `jobs` > 1 or an
    `executor` (refbp.parallel) the results are judged elsewhere and come back in that order.
    `progress`: a bar (None: on a terminal only). `keep_interrupted`: Ctrl-C ends the run with the
    verdicts so far and every bad input already found (`interrupted`, a note), as run_suite's."""
    from tqdm import tqdm

    if fd_method in UNSUPPORTED_FD_METHODS:
        raise ValueError(f"--fd-method {fd_method}: {UNSUPPORTED_FD_METHODS[fd_method]}")
    run = SuiteRun(
        started=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        oracles=tuple(oracles),
        searched=tuple(result_paths),
    )
    start = time.perf_counter()
    suite, bad_cases, run.notes = load_suite(case_paths)
    # A verdict already known (bad input), or a (result, case) to judge.
    items: list[CaseVerdict | tuple[Result, Case]] = list(bad_cases)
    unreadable: list[CaseError] = []
    judged: dict[str, str] = {}  # case id -> the result that was judged for it
    for path in discover(result_paths, unreadable):
        try:
            results = read_results(path)
        except CaseError as exc:
            items.append(input_error(path, str(exc), case=str(path)))
            continue
        items += [_to_judge(result, suite, judged) for result in results]
    items += [input_error(e.path, str(e), case=str(e.path)) for e in unreadable]
    to_judge = [item for item in items if not isinstance(item, CaseVerdict)]
    verdicts = judged_pairs(to_judge, oracles, fd_method, jobs, executor, conventions=conventions)

    def crashed(index: int, failed: UnitFailed) -> CaseVerdict:  # a result judged ahead of its turn whose worker died
        result, case = to_judge[index]
        return replace(crash_verdict(case, result.implementation, failed.reason), path=str(result.path))

    bar = tqdm(
        total=len(items),
        desc="refbp verify",
        unit="result",
        disable=True if progress is False else None,
        leave=False,
        dynamic_ncols=True,
    )
    with bar, closing(verdicts), interruptible(run, keep_interrupted, len(items), crashed):
        for item in items:
            run.verdicts.append(item if isinstance(item, CaseVerdict) else next(verdicts))
            bar.update()
    if run.interrupted:  # the bad input found before Ctrl-C is reported too
        given = {id(verdict) for verdict in run.verdicts}
        run.verdicts += [item for item in items if isinstance(item, CaseVerdict) and id(item) not in given]
    run.implementation = ", ".join(sorted({v.implementation for v in run.verdicts if v.implementation}))
    run.seconds = time.perf_counter() - start
    return run


def judge_results(
    results: Iterable[Result],
    suite: Mapping[str, Case],
    oracles: Sequence[str] = ORACLES,
    fd_method: str | None = None,
    judged: dict[str, str] | None = None,
    executor: Any = None,
    conventions: str = "any",
) -> list[CaseVerdict]:
    """A verdict per parsed result (refbp.check.results.results_in) against the cases `suite`
    (by id), in this process (the service's path) or on `executor` (a Dask cluster); a second
    result for a case already in `judged` (case id -> label) is bad input."""
    judged = {} if judged is None else judged
    items = [_to_judge(result, suite, judged) for result in results]
    verdicts = judged_pairs(
        [item for item in items if not isinstance(item, CaseVerdict)],
        oracles,
        fd_method,
        executor=executor,
        conventions=conventions,
    )
    with closing(verdicts):
        return [item if isinstance(item, CaseVerdict) else next(verdicts) for item in items]


def judged_pairs(
    to_judge: list[tuple[Result, Case]],
    oracles: Sequence[str],
    fd_method: str | None,
    jobs: int = 1,
    executor: Any = None,
    conventions: str = "any",
) -> Generator[CaseVerdict, None, None]:
    """The verdict of each (result, case) pair, in their order, judged here or as refbp.parallel
    runs units (`jobs` workers, an `executor`); a pair whose worker died twice is a crash verdict."""
    work: Callable[[Any], CaseVerdict]
    units: Sequence[Any]
    if jobs > 1 or executor is not None:
        work, units = (
            verify_unit,
            [
                ResultUnit(result, case.document, str(case.path or ""), tuple(oracles), fd_method, conventions)
                for result, case in to_judge
            ],
        )
    else:
        work, units = partial(_verify_pair, oracles=oracles, fd_method=fd_method, conventions=conventions), to_judge
    with closing(iter_units(work, units, jobs=jobs, executor=executor)) as verdicts:
        for index, verdict in verdicts:
            if isinstance(verdict, UnitFailed):
                result, case = to_judge[index]
                verdict = replace(crash_verdict(case, result.implementation, verdict.reason), path=str(result.path))
            yield verdict


def _to_judge(result: Result, suite: Mapping[str, Case], judged: dict[str, str]) -> CaseVerdict | tuple[Result, Case]:
    """A (result, case) pair to judge, or the bad-input verdict of a second result for a case
    already in `judged` (case id -> label: updated here) or of an unknown case."""
    if result.case in judged:
        return input_error(
            result.path,
            f"{result.path}: {result.where}case: a second result "
            f"for {result.case!r} (the first: {judged[result.case]})",
            case=result.case,
            implementation=result.implementation,
        )
    judged[result.case] = result.label()
    return _unknown_case(result, suite) or (result, suite[result.case])


def _verify_pair(
    pair: tuple[Result, Case], oracles: Sequence[str], fd_method: str | None, conventions: str = "any"
) -> CaseVerdict:
    result, case = pair
    return verify_against(result, case, oracles, fd_method, conventions=conventions)


def _unknown_case(result: Result, suite: Mapping[str, Case]) -> CaseVerdict | None:
    if result.case in suite:
        return None
    known = ", ".join(sorted(suite)[:8]) + (" ..." if len(suite) > 8 else "")
    return input_error(
        result.path,
        f"{result.path}: {result.where}case: unknown case {result.case[:60]!r} (known: {known})",
        case=result.case,
        implementation=result.implementation,
    )


def warm_up(suite: Mapping[str, Case]) -> None:
    """Judge refbp's own answers to the smallest trained MLP and RNN cases of `suite` once: the
    process loads and first runs the references' code (torch autograd and optim, the finite
    differences, the schemas), and REFERENCES keeps those cases' references."""
    for kind in ("mlp", "rnn"):
        cases = [c for c in suite.values() if c.network.kind == kind and c.train is not None]
        if cases:
            case = min(cases, key=lambda c: (sum(p.size for p in c.params.values()), c.id))
            judge_results(results_in(answer_document(case.id, "warm-up", compute_trace(case)), "warm-up"), suite)


# The torch reference's (loss, probe) over parameter dicts (refbp.oracle.torch_loss.loss_function).
TorchLoss = tuple[Callable[[dict[str, np.ndarray]], float], Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]]


def lazy_reference_loss(case: Case) -> TorchLoss:
    """The torch reference's (loss, probe) of `case`, its torch module built at the first evaluation:
    a check whose finite differences come from REFERENCES never evaluates the loss at all."""
    built: list[TorchLoss] = []

    def forms() -> TorchLoss:
        if not built:
            built.append(reference_loss_function(case))
        return built[0]

    return (lambda params: forms()[0](params)), (lambda params: forms()[1](params))


def verify_against(
    result: Result, case: Case, oracles: Sequence[str], fd_method: str | None, conventions: str = "any"
) -> CaseVerdict:
    """The verdict of one result against its case; a result that says it was computed in another
    dtype (`dtype`) is judged as the case at that dtype (refbp.cases.dtypes.at_dtype: float32 by its rule
    and the stick, float16 and bfloat16 against torch's own error there, docs/precision.md)."""

    def bad(message: str) -> CaseVerdict:
        return input_error(result.path, message, case=result.case, implementation=result.implementation)

    dtype = result.document.get("dtype")
    if dtype and dtype != case.dtype:
        case = at_dtype(case, dtype)

    try:
        read = result_trace(result, case)
    except CaseError as exc:
        return bad(str(exc))
    implementation = Implementation(result.implementation, lambda _case: read.trace, lazy_reference_loss)
    verdict = check_case(
        case, implementation, oracles, fd_method=fd_method, references=REFERENCES, conventions=conventions
    )
    # Judge only what the result provides; intermediates and input gradients are not part of a result.
    every_grad = all(("grads", name) in read.provided for name in case.params)
    checks = [
        c
        for c in verdict.checks
        if (c.quantity, c.tensor) in read.provided or (c.method == "directional" and every_grad)
    ]  # one row over all gradients
    checks += wrong_answer_rows(read, case, oracles)
    errors, error_kind = list(verdict.errors), verdict.error_kind
    where = result.where.rstrip(".") or "result"
    if not checks and not errors and (read.provided or read.wrong):
        error_kind = ErrorKind.INPUT
        errors.append(
            f"{result.path}: {where}: --oracle {','.join(oracles)}: nothing to check (no chosen "
            f"reference judges what the result provides)"
        )
    elif not checks and not errors:
        errors.append(
            f"{result.path}: {where}: provides no quantity that can be checked "
            f"(not provided: {', '.join(read.not_provided)})"
        )
    return replace(
        verdict,
        checks=checks,
        not_provided=read.not_provided,
        path=str(result.path),
        errors=errors,
        error_kind=error_kind,
        passed=bool(checks) and all(c.passed for c in checks) and not errors,
    )
