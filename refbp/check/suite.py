"""Run many cases: load each, check it, collect the verdicts. One bad file never stops the rest.

A run that checked nothing never passes: no case found is a reason to exit 2, and a case to
which no chosen reference applies is reported as such (bad input for that case).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import partial
from typing import Any

from refbp.cases import SUITE_DIR, Case

from ..parallel import UnitFailed, iter_units, start_workers
from .check_case import ORACLES, Implementation, check_case
from .references import SplitReferences
from .split_fd import splits
from .suite_load import LoadedCases as LoadedCases
from .suite_load import case_files as case_files
from .suite_load import input_error as input_error
from .suite_load import load_cases as load_cases
from .suite_run import EXIT_BAD_INPUT as EXIT_BAD_INPUT
from .suite_run import EXIT_FAILED as EXIT_FAILED
from .suite_run import EXIT_INTERRUPTED as EXIT_INTERRUPTED
from .suite_run import EXIT_PASSED as EXIT_PASSED
from .suite_run import SuiteRun as SuiteRun
from .units import CheckWith, case_cost, case_unit, check_unit, crash_verdict, run_one
from .verdict import CaseVerdict


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    """What every way of running a suite shares: the references, the finite-difference method,
    the progress bar, a callback per verdict, and whether Ctrl-C keeps the verdicts so far
    (`interrupted`, a note) instead of raising KeyboardInterrupt."""

    oracles: tuple[str, ...] = ORACLES
    fd_method: str | None = None
    progress: bool | None = None
    on_verdict: Callable[[CaseVerdict], None] | None = None
    keep_interrupted: bool = False


@dataclass(frozen=True, kw_only=True)
class Where:
    """Where the cases run: `jobs` local worker processes or an `executor` (refbp.parallel);
    with `timeout`, an adapter's calls are each limited to it, in guarded workers even for one job."""

    jobs: int = 1
    executor: object = None
    timeout: float | None = None


def check_in_process(
    paths: Sequence[Any] | None, checker: Callable[[Case], CaseVerdict], name: str, options: RunOptions = RunOptions()
) -> SuiteRun:
    """Check every case of `paths` in this process with `checker(case) -> CaseVerdict` (it raises
    Declined for a case it does not support): an Implementation object's, a test's, a mutant's;
    `name`: the implementation's, in the verdicts of cases it crashed on or declined."""
    work = partial(run_one, oracles=options.oracles, checker=checker, name=name)
    return _collect(paths, options, name, lambda cases: (work, cases, None), Where())


def check_by_spec(
    paths: Sequence[Any] | None, check_with: CheckWith, options: RunOptions = RunOptions(), where: Where = Where()
) -> SuiteRun:
    """Check every case of `paths` as `check_with` says (refbp on a backend, or an adapter's
    MODULE:FACTORY, or a program over a pipe), here or where `where` says.

    Elsewhere (jobs > 1, an executor, or an adapter with a timeout) the cases go as units made
    of their documents and `check_with` (plain data); the verdicts come back in the order of the
    cases, so the run is the same whatever ran it; the dearest cases start first. A case of refbp
    big enough (refbp.check.split_fd.splits) is checked here first, its finite differences split
    over the workers. A case whose worker died twice is a crash verdict. An adapter with a
    timeout runs in guarded workers (refbp.parallel.guarded), even for one job: each call into it
    is limited to the timeout, and one that exits, hangs or kills its worker fails its case only."""
    guarded = bool(check_with.impl) and where.timeout is not None and where.executor is None
    elsewhere = where.jobs > 1 or where.executor is not None or guarded
    # A user's implementation is timed call by call: in guarded workers, or on a cluster in a watched thread.
    where = Where(jobs=where.jobs, executor=where.executor, timeout=where.timeout if check_with.impl else None)
    if not elsewhere:
        return check_in_process(
            paths, check_with.checker(options.oracles, options.fd_method), check_with.display_name(), options
        )
    start_workers(where.jobs, where.executor, guarded=guarded)  # the workers import torch while the cases load here

    def plan(cases: list[Case]) -> Plan:
        return (
            check_unit,
            [case_unit(case, options.oracles, options.fd_method, check_with) for case in cases],
            [case_cost(case) for case in cases],
        )

    split_first = None
    if not check_with.impl and "fd" in options.oracles:
        checker = check_with.checker(options.oracles, options.fd_method, SplitReferences(where.jobs, where.executor))
        # One at a time, before the others: its shares take every worker.
        split_first = partial(run_one, oracles=options.oracles, checker=checker, name=check_with.display_name())
    return _collect(paths, options, check_with.display_name(), plan, where, split_first)


def run_suite(
    paths: Sequence[Any] | None = None,
    oracles: Sequence[str] = ORACLES,
    implementation: Implementation | None = None,
    progress: bool | None = None,
    fd_method: str | None = None,
    on_verdict: Callable[[CaseVerdict], None] | None = None,
    checker: Callable[[Case], CaseVerdict] | None = None,
    check_with: CheckWith | None = None,
    jobs: int = 1,
    executor: Any = None,
    timeout: float | None = None,
    keep_interrupted: bool = False,
) -> SuiteRun:
    """The one call of every mode, kept for its callers: check_in_process (an `implementation`
    or a `checker`) or check_by_spec (`check_with`, `jobs`, `executor`, `timeout`)."""
    options = RunOptions(
        oracles=tuple(oracles),
        fd_method=fd_method,
        progress=progress,
        on_verdict=on_verdict,
        keep_interrupted=keep_interrupted,
    )
    check_with = check_with or CheckWith()
    if implementation is not None or checker is not None:
        if jobs > 1 or executor is not None:
            raise ValueError("run_suite: with jobs > 1 or an executor, say what checks the cases with check_with")
        if checker is None:
            checker = partial(
                check_case,
                implementation=implementation,
                oracles=tuple(oracles),
                fd_method=fd_method,
                conventions=check_with.conventions,
            )
        return check_in_process(
            paths, checker, implementation.name if implementation else check_with.display_name(), options
        )
    return check_by_spec(paths, check_with, options, Where(jobs=jobs, executor=executor, timeout=timeout))


# What a way of running makes of the cases: (the work per unit, the units, their costs or None).
Plan = tuple[Callable[[Any], CaseVerdict], Sequence[Any], Sequence[float] | None]


def _collect(
    paths: Sequence[Any] | None,
    options: RunOptions,
    name: str,
    plan: Callable[[list[Case]], Plan],
    where: Where,
    split_first: Callable[[Case], CaseVerdict] | None = None,
) -> SuiteRun:
    """Load the cases, check them as `plan(cases) -> (work, units, costs)` says (after the cases
    `split_first` checks here, one by one), and collect the verdicts in the order found."""
    from tqdm import tqdm

    run = SuiteRun(
        started=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        oracles=tuple(options.oracles),
        searched=tuple(paths or [SUITE_DIR]),
    )
    start = time.perf_counter()
    loaded = load_cases(paths, name)
    run.notes += loaded.notes
    cases = loaded.cases
    split = {case.id: split_first(case) for case in cases if splits(case)} if split_first is not None else {}
    cases = [case for case in cases if case.id not in split]
    work, units, costs = plan(cases)
    verdicts = iter_units(work, units, jobs=where.jobs, executor=where.executor, costs=costs, timeout=where.timeout)
    bar = tqdm(
        total=len(loaded.items),
        desc="refbp run",
        unit="case",
        disable=True if options.progress is False else None,
        leave=False,
        dynamic_ncols=True,
    )
    with (
        bar,
        closing(verdicts),
        interruptible(
            run,
            options.keep_interrupted,
            len(loaded.items),
            lambda i, failed: crash_verdict(cases[i], name, failed.reason),
        ),
    ):
        for item in loaded.items:
            if isinstance(item, Case) and item.id in split:
                verdict = split[item.id]
            elif isinstance(item, Case):
                index, verdict = next(verdicts)  # the verdicts come in the order of `cases`
                if isinstance(verdict, UnitFailed):
                    verdict = crash_verdict(cases[index], name, verdict.reason)
            else:
                verdict = item
            run.implementation = run.implementation or verdict.implementation
            run.verdicts.append(verdict)
            bar.update()
            if options.on_verdict is not None:
                options.on_verdict(verdict)
    if run.interrupted:  # the files found bad before Ctrl-C are reported too
        given = {id(verdict) for verdict in run.verdicts}
        run.verdicts += [item for item in loaded.bad if id(item) not in given]
    run.seconds = time.perf_counter() - start
    return run


@contextmanager
def interruptible(
    run: SuiteRun, keep: bool, total: int, crashed: Callable[[int, UnitFailed], CaseVerdict]
) -> Iterator[None]:
    """With `keep`, Ctrl-C ends the loop over the cases and the run keeps its verdicts so far: those
    given, and those that came ahead of their turn (refbp.parallel.units.in_order's `held`, by
    index of the cases run; `crashed(index, UnitFailed)` makes the verdict of one that failed)."""
    try:
        yield
    except KeyboardInterrupt as exc:
        if not keep:
            raise
        for index, verdict in sorted(getattr(exc, "held", {}).items()):
            run.verdicts.append(crashed(index, verdict) if isinstance(verdict, UnitFailed) else verdict)
        run.interrupted = True
        run.notes.append(
            f"interrupted (Ctrl-C) after {len(run.verdicts)} of {total} cases: their verdicts are "
            f"reported, the other cases were not checked"
        )
