"""One fuzz example, checked: the unit of work of `refbp fuzz` (one call per seed and index).

`check_unit(FuzzUnit(seed, index, kind, dtype), Target(...))` draws example `index` of
`seed` (refbp.fuzz.draw) and checks it as `refbp run` checks a case (refbp against torch
autograd and finite differences: refbp.check.check_case), or, when the target names an
implementation (`--impl`), as `refbp check` does (refbp.check.check_adapter). Units depend on
nothing but their arguments, so an executor may run them anywhere, in any order; the run
orders their outcomes by index.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np

from refbp.cases import parse_case

from ..check.adapter import Declined, load_factory
from ..check.verdict import CaseVerdict, VerdictState
from ..diagnosis.crash import crash_line
from ..parallel.guarded import run_guarded
from ..parallel.units import UnitFailed
from .draw import draw_example
from .space import value_range_of


@dataclass(frozen=True)
class Target:
    """What is checked: refbp itself (impl None) or an adapter implementation (`module:factory`)."""

    impl: str | None = None
    fd_method: str | None = None
    conventions: str = "any"  # --conventions: any | torch (refbp.check.check_case)
    # With impl: each example checked in a guarded worker (check_guarded), each call into the
    # implementation limited to this many seconds (--timeout); None: in this process.
    timeout: float | None = None


@dataclass(frozen=True)
class FuzzUnit:
    seed: int
    index: int
    kind: str = "all"  # mlp, rnn, all; or a Capabilities (refbp.fuzz.capabilities): only the cases inside it
    dtype: str = "float64"


@dataclass
class ExampleOutcome:
    index: int
    document: dict | None  # None: hypothesis drew nothing at this index
    passed: bool = True
    supported: bool = True  # False: the implementation declined the case
    failure: str = ""  # the first failing check (or the error), "" when passed
    features: dict = field(default_factory=dict)
    seconds: float = 0.0
    # The largest error of any judged row relative to its tolerance (1 is the limit).
    worst_margin: float = 0.0
    # No check failed, but an entry no reference could judge to the accuracy needed: neither
    # passed nor failed (not shrunk, not saved; a failure of the run with --strict).
    inconclusive: bool = False

    @property
    def failed(self) -> bool:
        return not self.passed and not self.inconclusive


def check_unit(unit: FuzzUnit, target: Target) -> ExampleOutcome:
    document = draw_example(unit.seed, unit.index, unit.kind, unit.dtype)
    if document is None:
        return ExampleOutcome(unit.index, None)
    return check_document(unit.index, document, target)


def check_document(index: int, document: dict, target: Target) -> ExampleOutcome:
    """The outcome of one drawn document (also what shrinking calls on each candidate)."""
    if target.impl and target.timeout is not None:  # the user's code never runs in this process
        return check_guarded(index, document, target)
    start = time.perf_counter()
    outcome = ExampleOutcome(index, document, features=features(document))
    try:
        # numpy's floating-point warnings (log(0) of a saturated bce output, clamped) would be
        # printed once per example: a NaN or an overflow that matters is a failed check.
        with np.errstate(all="ignore"):
            verdict = verdict_of(document, target)
    except Declined:
        outcome.supported = False
    except Exception as exc:  # a crash of the implementation or of a check is this example's failure
        outcome.passed, outcome.failure = False, f"crash: {crash_line(exc)}"  # with its file and line
    else:
        state = verdict.state
        outcome.passed, outcome.inconclusive = state is VerdictState.PASS, state is VerdictState.INCONCLUSIVE
        outcome.failure = failure_text(verdict) if state is VerdictState.FAIL else ""
        outcome.worst_margin = worst_margin(verdict)
    outcome.seconds = time.perf_counter() - start
    return outcome


def verdict_of(document: dict, target: Target) -> CaseVerdict:
    # The checks (torch, the references) are imported where an example is checked: a process
    # that only draws examples and hands them to workers (`--jobs N`) never needs torch.
    from ..check.check_adapter import check_adapter_case
    from ..check.check_case import check_case

    case = parse_case(document)
    if target.impl is None:
        return check_case(case, fd_method=target.fd_method, conventions=target.conventions)
    return check_adapter_case(
        case, factory(target.impl), target.impl, fd_method=target.fd_method, conventions=target.conventions
    )


@lru_cache(maxsize=4)
def factory(spec: str):
    """The factory `spec` names, imported once per process."""
    return load_factory(spec)


def failure_text(verdict: CaseVerdict) -> str:
    """The first failing check, as `reference quantity tensor[index]` (or the first error)."""
    failed = verdict.failed_checks()
    if failed:
        check = failed[0]
        index = "".join(f"[{i}]" for i in check.worst_index)
        return f"{check.reference} {check.quantity} {check.tensor}{index} (rel err {check.max_rel_err:.2g})"
    return verdict.errors[0] if verdict.errors else "failed"


def worst_margin(verdict: CaseVerdict) -> float:
    """How close the example came to its tolerance against torch autograd: the largest
    |actual - reference| / (atol + rtol |reference|) at a row's worst entry (1 is the limit;
    finite-difference rows are left out, their allowance varies per entry)."""
    margins = [
        abs(c.actual - c.expected_value) / (c.atol + c.rtol * abs(c.expected_value) + 1e-300)
        for c in verdict.checks
        if c.reference == "torch-autograd" and c.checked and math.isfinite(c.actual) and math.isfinite(c.expected_value)
    ]
    return max(margins, default=0.0)


def features(document: dict) -> dict:
    """What an example is, for the summary: kind, activations, loss, depth, dtype, values, training."""
    network = document["network"]
    if network["kind"] == "mlp":
        activations, depth = list(network["activations"]), len(network["sizes"]) - 1
    else:
        activations = [network["nonlinearity"], network["output_activation"]]
        depth = len(document["inputs"][0])  # time steps: the depth of the unrolled recurrence
    train = document.get("train")
    return {
        "kind": network["kind"],
        "activations": sorted(set(activations)),
        "loss": document["loss"],
        "depth": depth,
        "dtype": document.get("dtype", "float64"),
        "values": value_range_of(document),
        "optimizer": train["optimizer"] if train else "none",
    }


__all__ = ["ExampleOutcome", "FuzzUnit", "Target", "check_document", "check_unit"]


# `refbp fuzz --impl`: an example checked in a guarded worker (refbp.parallel.guarded), so that an
# implementation that exits, hangs (past --timeout) or kills its process fails that example, with
# the reason, instead of ending or hanging refbp.


def check_guarded(index: int, document: dict, target: Target) -> ExampleOutcome:
    """check_document in a guarded worker (kept for the next example); a failed example when it gave no outcome."""
    assert target.timeout is not None  # guarded only under --timeout (check_document)
    inside = replace(target, timeout=None)  # checked as in one process, there
    result = run_guarded(check_inside, (index, document, inside), target.timeout)
    if isinstance(result, UnitFailed):
        return crashed(index, document, result.reason)
    return result


def check_inside(unit: tuple) -> ExampleOutcome:
    """What the worker runs (module-level: pickled by name)."""
    return check_document(*unit)


def crashed(index: int, document: dict, reason: str) -> ExampleOutcome:
    return ExampleOutcome(index, document, passed=False, failure=f"crash: {reason}", features=features(document))
