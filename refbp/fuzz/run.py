"""A fuzz run: examples drawn and checked until the budget is spent, failures shrunk and saved.

The budget is a number of examples or a number of minutes. Units (refbp.fuzz.unit) are
checked here one after another; `check_units` is the one place an executor would run them
elsewhere. Of the failing examples, the first of each distinct first failing check is kept
(`max_saved` in all), shrunk by hypothesis (refbp.fuzz.shrink; unless `shrink` is off) and
written as a regression case (refbp.fuzz.save) when a folder is given.

Ctrl-C (KeyboardInterrupt) ends the drawing: the run keeps the outcomes checked so far, its
failures are kept as drawn (shrinking is skipped, or stopped where it was) and saved, and it
exits 130. A folder that refuses the failures does not lose them: they are written into a
temporary folder instead, and `save_problem` says where.
"""

from __future__ import annotations

import itertools
import json
import shlex
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..check.impl_facts import implementation_facts
from ..pipe import PIPE_PREFIX
from .capabilities import Capabilities, options_text
from .draw import ROUND_SIZE
from .kinds import with_supported_kind
from .save import regression_document, save_regression
from .shrink import Shrunk, shrink
from .spread import check_spread
from .unit import ExampleOutcome, FuzzUnit, Target, check_unit

EXIT_CLEAN, EXIT_FAILURES, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT), the examples so far kept
DEFAULT_EXAMPLES = 200


@dataclass(frozen=True)
class FuzzOptions:
    kind: str = "all"
    examples: int | None = DEFAULT_EXAMPLES  # the budget: examples, or
    minutes: float | None = None  # minutes (one of the two)
    seed: int = 0
    dtype: str = "float64"
    impl: str | None = None
    fd_method: str | None = None
    conventions: str = "any"  # --conventions: any | torch
    strict: bool = False  # --strict: an inconclusive example fails the run
    save_failures: Path | None = None
    max_saved: int = 3  # failures kept: one per distinct first failing check
    shrink: bool = True
    progress: bool | None = None  # None: a bar on a terminal only
    jobs: int = 1  # local worker processes (refbp.fuzz.spread), or
    executor: str | None = None  # a Dask cluster, dask://HOST:PORT
    timeout: float | None = None  # with impl: seconds per call, in guarded workers (None: here)
    # The command line's narrowing (--activations, --losses, ...: refbp.fuzz.capabilities), and the
    # space drawn from: that and the factory's capabilities (None: the kind alone).
    narrow: Capabilities | None = None
    space: Capabilities | None = None

    @property
    def drawn(self):
        """What the examples are drawn from: the space, or the kind."""
        return self.space if self.space is not None else self.kind

    def command(self) -> str:
        """The command line that draws the same examples."""
        parts = ["refbp fuzz", f"--kind {self.kind}", f"--seed {self.seed}", f"--dtype {self.dtype}"]
        if self.impl and self.impl.startswith(PIPE_PREFIX):  # a command over a pipe (refbp.pipe)
            parts.append(f"--cmd {shlex.quote(self.impl[len(PIPE_PREFIX) :])}")
        elif self.impl:
            parts.append(f"--impl {self.impl}")
        if self.conventions != "any":
            parts.append(f"--conventions {self.conventions}")
        return " ".join(parts + options_text(self.narrow))


@dataclass
class FuzzRun:
    options: FuzzOptions
    outcomes: list[ExampleOutcome] = field(default_factory=list)
    shrunk: list[Shrunk] = field(default_factory=list)
    saved: list[Path] = field(default_factory=list)
    regressions: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    interrupted: str = ""  # Ctrl-C ended the run: the note saying what was kept ("" otherwise)
    save_problem: str = ""  # the failures could not be written where asked: why, and where they are

    @property
    def checked(self) -> list[ExampleOutcome]:
        return [o for o in self.outcomes if o.document is not None and o.supported]

    @property
    def failed(self) -> list[ExampleOutcome]:
        return [o for o in self.checked if o.failed]

    @property
    def inconclusive(self) -> list[ExampleOutcome]:
        """Examples with no failed check but an entry no reference could judge: never passed."""
        return [o for o in self.checked if o.inconclusive]

    @property
    def declined(self) -> list[ExampleOutcome]:
        return [o for o in self.outcomes if o.document is not None and not o.supported]

    @property
    def examples_per_second(self) -> float:
        return len(self.checked) / self.seconds if self.seconds > 0 else 0.0

    def exit_code(self) -> int:
        """130 when interrupted (Ctrl-C), 2 when the failures could not be saved where asked, 1 when
        an example failed (or, with --strict, was inconclusive), 2 when nothing could be checked
        (all declined), else 0."""
        if self.interrupted:
            return EXIT_INTERRUPTED
        if self.save_problem:
            return EXIT_USAGE
        if self.failed or (self.options.strict and self.inconclusive):
            return EXIT_FAILURES
        return EXIT_USAGE if not self.checked else EXIT_CLEAN


def run_fuzz(options: FuzzOptions) -> FuzzRun:
    # An implementation that states what it supports (and the options' narrowing) gets only that drawn.
    options = with_supported_kind(
        options, implementation_facts(options.impl, options.timeout) if options.impl else None
    )
    run = FuzzRun(options)
    target = Target(options.impl, options.fd_method, options.conventions, options.timeout)
    start = time.perf_counter()
    try:
        check_units(units(options, start), target, options, start, into=run.outcomes)
    except KeyboardInterrupt:
        run.interrupted = (
            f"interrupted (Ctrl-C) after {len(run.outcomes)} examples: their outcomes are reported"
            f"{' and their failures kept as drawn (not shrunk)' if run.failed else ''}"
        )
    run.seconds = time.perf_counter() - start
    run.shrunk = shrink_failures(run, target)
    run.regressions = [
        regression_document(s.outcome, options.command(), s.original_index, s.checks > 0) for s in run.shrunk
    ]
    if options.save_failures is not None:
        run.saved, run.save_problem = save_all(run.regressions, options.save_failures)
    return run


def save_all(documents: list[dict], directory) -> tuple[list[Path], str]:
    """Every regression written into `directory`; when it refuses them (the folder was checked
    before the run, but may have changed since), into a fresh temporary folder instead:
    (the paths written, "" or the one line saying why and where they are)."""
    try:
        return [save_regression(document, directory) for document in documents], ""
    except OSError as exc:
        why = f"{exc.strerror or type(exc).__name__}{f' ({exc.filename})' if exc.filename else ''}"
    elsewhere = Path(tempfile.mkdtemp(prefix="refbp-fuzz-failures-"))
    saved = [save_regression(document, elsewhere) for document in documents]
    return saved, (
        f"--save-failures {directory}: cannot write the failures: {why}; the {len(saved)} "
        f"failure(s) were saved in {elsewhere} instead"
    )


def units(options: FuzzOptions, start: float):
    """The units of the budget, in index order: `examples` of them, or as many as fit in `minutes`."""
    for index in itertools.count():
        if options.examples is not None and index >= options.examples:
            return
        if options.minutes is not None and time.perf_counter() - start >= 60.0 * options.minutes:
            return
        yield FuzzUnit(options.seed, index, options.drawn, options.dtype)


def check_units(
    pending, target: Target, options: FuzzOptions, start: float = 0.0, into: list | None = None
) -> list[ExampleOutcome]:
    """Every unit's outcome, in index order, with a progress bar (over workers: refbp.fuzz.spread),
    appended to `into` as each is known (so that Ctrl-C, which propagates, leaves those so far)."""
    from tqdm import tqdm  # the bar only: imported when a run starts

    outcomes = [] if into is None else into
    bar = tqdm(
        pending,
        total=options.examples,
        desc="refbp fuzz",
        unit="example",
        leave=False,
        dynamic_ncols=True,
        disable=True if options.progress is False else None,
    )
    if options.jobs > 1 or options.executor is not None:
        with bar:

            def on_outcome(outcome):
                outcomes.append(outcome)
                bar.update()

            check_spread(options, target, start, on_outcome=on_outcome)
        return outcomes
    failures = 0
    with bar:
        for unit in bar:
            outcome = check_unit(unit, target)
            outcomes.append(outcome)
            failures += outcome.failed
            bar.set_postfix(failed=failures, refresh=False)
    return outcomes


def shrink_failures(run: FuzzRun, target: Target) -> list[Shrunk]:
    """The first failure of each distinct first failing check (at most max_saved), shrunk."""
    options = run.options
    chosen: dict[str, ExampleOutcome] = {}
    for outcome in run.failed:
        chosen.setdefault(_signature(outcome.failure), outcome)
    results, seen = [], set()
    for outcome in list(chosen.values())[: options.max_saved]:
        round_index = outcome.index // ROUND_SIZE
        # Every example drawn before it in its round returns at once in the replay (as when drawn).
        earlier = {
            json.dumps(o.document)
            for o in run.outcomes
            if o.index // ROUND_SIZE == round_index and o.index < outcome.index and o.document is not None
        }
        shrunk = None
        if options.shrink and not run.interrupted:  # after Ctrl-C: the failures as drawn, at once
            try:
                shrunk = shrink(options.seed, round_index, options.drawn, options.dtype, target, earlier, outcome.index)
            except KeyboardInterrupt:
                run.interrupted = (
                    f"interrupted (Ctrl-C) while shrinking, after {len(run.outcomes)} examples "
                    f"checked: the failures not yet shrunk are kept as drawn"
                )
        if shrunk is None:  # not shrunk, or the replay did not fail: the example as drawn
            shrunk = Shrunk(outcome, outcome.index, 0)
        key = json.dumps(shrunk.outcome.document, sort_keys=True)
        if key not in seen:
            seen.add(key)
            results.append(shrunk)
    return results


def _signature(failure: str) -> str:
    """A failure without its entry and size: `torch-autograd grads layers.0.weight`."""
    return failure.split("[", 1)[0].split(" (", 1)[0]
