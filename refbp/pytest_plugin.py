"""refbp's pytest plugin: the conformance suite inside a user's own test run.

    pytest --refbp-impl mypkg.nets:factory                 # one test per case of the suite
    pytest --refbp-impl path/to/impl.py:factory --refbp-cases my-cases/

Each case becomes one test item, `refbp[<case id>]`, that checks the adapter implementation
(docs/formats.md, "The adapter protocol") as `refbp check` does and fails with the
per-tensor verdict as its message; a case the factory declines is skipped ("not supported"),
and so is an inconclusive case (no row failed, but some entries no reference could judge to
the accuracy needed; never passed): with --refbp-strict it fails.
Without --refbp-impl the plugin adds nothing. For a parametrised test of your own, use
`case_paths()` and `assert_case_passes()`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

CONVENTIONS = ("any", "torch")


def pytest_addoption(parser):
    group = parser.getgroup("refbp", "refbp: check a backprop implementation against the conformance suite")
    group.addoption(
        "--refbp-impl",
        metavar="MODULE:FACTORY",
        default=None,
        help="an adapter factory (package.module:factory or path/to/file.py:factory): adds one test per case",
    )
    group.addoption(
        "--refbp-cases",
        metavar="PATH",
        action="append",
        default=None,
        help="case files or folders (repeatable; default: refbp's whole suite)",
    )
    group.addoption(
        "--refbp-fd-method",
        metavar="METHOD",
        default=None,
        help="finite-difference method of the checks (default: as refbp check)",
    )
    group.addoption(
        "--refbp-conventions",
        choices=CONVENTIONS,
        default="any",
        help="torch: only torch's own choices pass where correct implementations may differ "
        "(relu'(0) = 0, BCELoss's backward); default any: every admissible convention, "
        "docs/formats.md 'Conventions'",
    )
    group.addoption(
        "--refbp-strict",
        action="store_true",
        default=False,
        help="an inconclusive case fails its test (default: it is skipped, never passed)",
    )
    group.addoption(
        "--refbp-timeout",
        metavar="SECONDS",
        type=float,
        default=None,
        help="the longest one call into the implementation may take (default: as refbp check); "
        "the implementation runs in a worker process, never in pytest's: an exit, a hang or a "
        "crash in it fails that case's test",
    )


def pytest_collection_modifyitems(session, config, items):
    spec = config.getoption("refbp_impl")
    if not spec:
        return
    for path in case_paths(config.getoption("refbp_cases")):
        items.append(
            RefbpCase.from_parent(
                session,
                name=f"refbp[{path.stem}]",
                case_path=path,
                spec=spec,
                fd_method=config.getoption("refbp_fd_method"),
                conventions=config.getoption("refbp_conventions"),
                strict=config.getoption("refbp_strict"),
                timeout=config.getoption("refbp_timeout"),
            )
        )


def case_paths(paths=None) -> list[Path]:
    """The case files of `paths` (files or folders; default: refbp's installed suite)."""
    from refbp.cases import SUITE_DIR, discover

    return discover([Path(p) for p in paths] if paths else [SUITE_DIR])


class CaseFailed(AssertionError):
    """A case's verdict did not pass: the message lists its failed rows and errors."""


def assert_case_passes(
    spec_or_factory,
    case_path,
    fd_method: str | None = None,
    conventions: str = "any",
    strict: bool = False,
    timeout: float | None = None,
) -> None:
    """Check one case on an adapter implementation under `conventions` (any | torch); CaseFailed
    with the per-tensor verdict, pytest.skip when the factory declines the case, and when the
    case is inconclusive (CaseFailed instead with `strict`). Given as MODULE:FACTORY text, the
    implementation runs in a guarded worker process (each call limited to `timeout` seconds,
    default refbp check's); given as a callable, in this process."""
    from refbp.cases import load_case
    from refbp.check.adapter import Declined
    from refbp.check.check_adapter import check_adapter_case
    from refbp.check.verdict import VerdictState

    case = load_case(case_path)
    if isinstance(spec_or_factory, str):
        verdict = _guarded_verdict(spec_or_factory, case, fd_method, conventions, timeout)
    else:
        name = getattr(spec_or_factory, "__qualname__", "factory")
        try:
            verdict = check_adapter_case(case, spec_or_factory, name, fd_method=fd_method, conventions=conventions)
        except Declined:
            verdict = None
    if verdict is None or verdict.error_kind == "unsupported":
        pytest.skip(f"{case.id}: not supported by {spec_or_factory if isinstance(spec_or_factory, str) else 'factory'}")
    state = verdict.state
    if state is VerdictState.INCONCLUSIVE and not strict:
        pytest.skip(inconclusive_message(verdict))
    if state is not VerdictState.PASS:
        raise CaseFailed(verdict_message(verdict))


def _guarded_verdict(spec: str, case, fd_method, conventions: str, timeout: float | None):
    """The case checked in a guarded worker (refbp.parallel.guarded): a worker that exits, hangs
    or dies gives the case's crash verdict, naming the call."""
    from refbp.check.units import CaseUnit, CheckWith, check_unit, crash_verdict, shippable_spec
    from refbp.parallel.guarded import DEFAULT_TIMEOUT, run_guarded
    from refbp.parallel.units import UnitFailed

    check_with = CheckWith(impl=shippable_spec(spec), name=spec, conventions=conventions)
    unit = CaseUnit(case.document, str(case.path or ""), fd_method=fd_method, check_with=check_with)
    result = run_guarded(check_unit, unit, DEFAULT_TIMEOUT if timeout is None else timeout)
    return crash_verdict(case, spec, result.reason) if isinstance(result, UnitFailed) else result


def verdict_message(verdict) -> str:
    from refbp.check.verdict import VerdictState

    status = "INCONCLUSIVE (--refbp-strict)" if verdict.state is VerdictState.INCONCLUSIVE else "FAILED"
    lines = [f"{verdict.case}: {status} ({verdict.network}, {verdict.dtype})"]
    lines += [f"  error: {e}" for e in verdict.errors]
    for check in verdict.failed_checks():
        where = "".join(f"[{i}]" for i in check.worst_index)
        lines.append(
            f"  {check.quantity} {check.tensor}{where} vs {check.reference}: "
            f"{check.actual!r} vs {check.expected_value!r} (abs err {check.max_abs_err:.3g}, "
            f"rel err {check.max_rel_err:.3g}; atol {check.atol:g}, rtol {check.rtol:g})"
            + (f" {check.note}" if check.note else "")
        )
    for check in verdict.inconclusive_checks():
        lines.append(
            f"  {check.quantity} {check.tensor} vs {check.reference}: inconclusive, {check.inconclusive} "
            "entries no reference could judge to the accuracy needed" + (f" {check.note}" if check.note else "")
        )
    if not verdict.checks and not verdict.errors:
        lines.append("  nothing was checked")
    return "\n".join(lines)


def inconclusive_message(verdict) -> str:
    """The skip reason of an inconclusive case: one line."""
    rows = verdict.inconclusive_checks()
    where = ", ".join(f"{c.quantity} {c.tensor} vs {c.reference}" for c in rows[:3]) + (" ..." if len(rows) > 3 else "")
    return (
        f"{verdict.case}: inconclusive ({verdict.inconclusive} entries no reference could judge to the accuracy "
        f"needed: {where}); --refbp-strict fails it"
    )


class RefbpCase(pytest.Item):
    def __init__(
        self,
        *,
        case_path: Path,
        spec: str,
        fd_method: str | None,
        conventions: str = "any",
        strict: bool = False,
        timeout: float | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.case_path, self.spec, self.fd_method = case_path, spec, fd_method
        self.conventions, self.strict, self.timeout = conventions, strict, timeout

    def runtest(self):
        assert_case_passes(self.spec, self.case_path, self.fd_method, self.conventions, self.strict, self.timeout)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, CaseFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.case_path, None, f"refbp case {self.case_path.stem} on {self.spec}"
