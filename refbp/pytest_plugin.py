"""refbp's pytest plugin: the conformance suite inside a user's own test run.

    pytest --refbp-impl mypkg.nets:factory                 # one test per case of the suite
    pytest --refbp-impl path/to/impl.py:factory --refbp-cases my-cases/

Each case becomes one test item, `refbp[<case id>]`, that checks the adapter implementation
(docs/formats.md, "The adapter protocol") as `refbp check` does and fails with the
per-tensor verdict as its message; a case the factory declines is skipped ("not supported").
Without --refbp-impl the plugin adds nothing. For a parametrised test of your own, use
`case_paths()` and `assert_case_passes()`.
"""

from __future__ import annotations

from pathlib import Path

import pytest


def pytest_addoption(parser):
    group = parser.getgroup("refbp", "refbp: check a backprop implementation against the conformance suite")
    group.addoption("--refbp-impl", metavar="MODULE:FACTORY", default=None,
                    help="an adapter factory (package.module:factory or path/to/file.py:factory): "
                         "adds one test per case")
    group.addoption("--refbp-cases", metavar="PATH", action="append", default=None,
                    help="case files or folders (repeatable; default: refbp's whole suite)")
    group.addoption("--refbp-fd-method", metavar="METHOD", default=None,
                    help="finite-difference method of the checks (default: as refbp check)")


def pytest_collection_modifyitems(session, config, items):
    spec = config.getoption("refbp_impl")
    if not spec:
        return
    for path in case_paths(config.getoption("refbp_cases")):
        items.append(RefbpCase.from_parent(session, name=f"refbp[{path.stem}]", case_path=path, spec=spec,
                                           fd_method=config.getoption("refbp_fd_method")))


def case_paths(paths=None) -> list[Path]:
    """The case files of `paths` (files or folders; default: refbp's installed suite)."""
    from cases import SUITE_DIR, discover

    return discover([Path(p) for p in paths] if paths else [SUITE_DIR])


class CaseFailed(AssertionError):
    """A case's verdict did not pass: the message lists its failed rows and errors."""


def assert_case_passes(spec_or_factory, case_path, fd_method: str | None = None) -> None:
    """Check one case on an adapter implementation; CaseFailed with the per-tensor verdict,
    pytest.skip when the factory declines the case."""
    from cases import load_case
    from refbp.check.adapter import Declined, load_factory
    from refbp.check.check_adapter import check_adapter_case

    factory = load_factory(spec_or_factory) if isinstance(spec_or_factory, str) else spec_or_factory
    name = spec_or_factory if isinstance(spec_or_factory, str) else getattr(factory, "__qualname__", "factory")
    case = load_case(case_path)
    try:
        verdict = check_adapter_case(case, factory, name, fd_method=fd_method)
    except Declined:
        pytest.skip(f"{case.id}: not supported by {name}")
    if not verdict.passed:
        raise CaseFailed(verdict_message(verdict))


def verdict_message(verdict) -> str:
    lines = [f"{verdict.case}: FAILED ({verdict.network}, {verdict.dtype})"]
    lines += [f"  error: {e}" for e in verdict.errors]
    for check in verdict.failed_checks():
        where = "".join(f"[{i}]" for i in check.worst_index)
        lines.append(f"  {check.quantity} {check.tensor}{where} vs {check.reference}: "
                     f"{check.actual!r} vs {check.expected_value!r} (abs err {check.max_abs_err:.3g}, "
                     f"rel err {check.max_rel_err:.3g}; atol {check.atol:g}, rtol {check.rtol:g})"
                     + (f" {check.note}" if check.note else ""))
    if not verdict.checks and not verdict.errors:
        lines.append("  nothing was checked")
    return "\n".join(lines)


class RefbpCase(pytest.Item):
    def __init__(self, *, case_path: Path, spec: str, fd_method: str | None, **kwargs):
        super().__init__(**kwargs)
        self.case_path, self.spec, self.fd_method = case_path, spec, fd_method

    def runtest(self):
        assert_case_passes(self.spec, self.case_path, self.fd_method)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, CaseFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.case_path, None, f"refbp case {self.case_path.stem} on {self.spec}"
