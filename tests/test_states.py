"""The three verdict states (pass, fail, inconclusive) everywhere a verdict goes: the exit code
(inconclusive exits 0, 1 with --strict), the console, the verdict JSON and its schema, the
report's files (details.csv, summary.csv/md, entries.csv, report.html), the verdict store
(SQLite and PostgreSQL), the service's answers, `refbp history`, `refbp compare`; and
--conventions reaching the judging (check_case, the adapter, verify, the units, fuzz)."""

from __future__ import annotations

import asyncio
import importlib
import json

import httpx
import pandas as pd
import pytest

from refbp.cases import SUITE_DIR, load_case
from refbp.cases.schema import validate
from refbp.check.notes import short_note
from refbp.check.suite import SuiteRun
from refbp.check.verdict import CaseVerdict, Check, EntryRecord, VerdictState
from refbp.cli import main

SEED = str(SUITE_DIR / "seed" / "seed-2-2-2.json")


def row(
    tensor="layers.0.weight", passed=True, inconclusive=0, convention="", reference="finite-difference", entries=()
) -> Check:
    return Check(
        quantity="grads",
        tensor=tensor,
        reference=reference,
        max_abs_err=1e-9,
        max_rel_err=1e-8,
        worst_index=[0, 1],
        atol=1e-7,
        rtol=1e-6,
        passed=passed,
        note=short_note({"judged:richardson": 4, "kink:torch judges": 1, "inconclusive": inconclusive}),
        checked=6,
        nondifferentiable=1,
        actual=0.5,
        expected_value=0.5,
        method="richardson",
        step=1e-5,
        error_estimate=1e-9,
        convention=convention,
        inconclusive=inconclusive,
        entries=tuple(entries),
    )


def verdict(case, *checks, errors=(), passed=None) -> CaseVerdict:
    passed = all(c.passed for c in checks) and not errors if passed is None else passed
    return CaseVerdict(
        case=case,
        implementation="probe",
        passed=passed,
        checks=list(checks),
        errors=list(errors),
        network="mlp 2-2-2",
        dtype="float64",
        case_hash="a" * 64,
        title=case,
    )


ENTRY = EntryRecord(
    "undecided",
    "grads",
    "layers.0.weight",
    "finite-difference",
    (1, 0),
    "inconclusive",
    "richardson",
    0.25,
    0.2500001,
    "error estimate above the tolerance",
)


def inconclusive_run(strict: bool = False) -> SuiteRun:
    undecided = verdict(
        "undecided", row(), row("layers.0.bias", inconclusive=2, convention="relu'(0) = 1", entries=[ENTRY])
    )
    return SuiteRun(
        verdicts=[verdict("fine", row()), undecided],
        started="2026-01-01T00:00:00+00:00",
        seconds=1.5,
        implementation="probe",
        strict=strict,
    )


def test_the_states_of_rows_and_cases():
    assert row().state is VerdictState.PASS
    assert row(inconclusive=1).state is VerdictState.INCONCLUSIVE
    assert row(passed=False, inconclusive=1).state is VerdictState.FAIL
    assert verdict("a", row()).state is VerdictState.PASS
    assert verdict("a", row(), row(inconclusive=1)).state is VerdictState.INCONCLUSIVE
    assert verdict("a", row(passed=False), row(inconclusive=1)).state is VerdictState.FAIL
    assert verdict("a", row(inconclusive=1), errors=["boom"]).state is VerdictState.FAIL
    assert verdict("a").state is VerdictState.FAIL  # a case with no rows never passes
    # Whichever way the judge sets `passed` for an inconclusive case, it reads inconclusive.
    assert verdict("a", row(inconclusive=1), passed=False).state is VerdictState.INCONCLUSIVE


def test_inconclusive_exits_0_and_1_with_strict():
    run = inconclusive_run()
    assert [v.case for v in run.inconclusive] == ["undecided"] and not run.failed and len(run.passed) == 1
    assert run.exit_code() == 0
    assert inconclusive_run(strict=True).exit_code() == 1
    failing = inconclusive_run(strict=True)
    failing.verdicts.append(verdict("broken", row(passed=False)))
    assert failing.exit_code() == 1
    assert SuiteRun().exit_code() == 2  # a run that checked nothing never passes


def test_the_verdict_json_never_says_passed_for_an_inconclusive_case():
    document = inconclusive_run().verdicts[1].to_json()
    assert document["passed"] is False and document["state"] == "inconclusive" and document["inconclusive"] == 2
    first, second = document["checks"]
    assert first["state"] == "pass" and first["passed"] is True
    assert second["state"] == "inconclusive" and second["passed"] is False and second["inconclusive"] == 2
    assert second["convention"] == "relu'(0) = 1" and "entries" not in second
    validate(document, "verdict")  # a CaseError if the schema refused it
    validate(inconclusive_run().verdicts[0].to_json(), "verdict")


def test_the_console_counts_inconclusive_cases_apart():
    from refbp.report import format_run

    text = format_run(inconclusive_run())
    assert "INC   undecided" in text and "PASS  fine" in text
    assert "undecided: inconclusive: grads layers.0.bias vs finite-difference: 2 entries" in text
    assert "1/2 cases passed, 0 failed, 1 inconclusive, 0 bad input" in text
    assert "--strict" in format_run(inconclusive_run(strict=True))


def test_the_report_files_show_the_states(tmp_path):
    from refbp.report import write_report

    out = write_report(inconclusive_run(), tmp_path)
    details = pd.read_csv(out / "details.csv", keep_default_na=False)
    assert {"state", "convention", "inconclusive"} <= set(details.columns)
    bias = details[details["tensor"] == "layers.0.bias"].iloc[0]
    assert bias["state"] == "inconclusive" and not bias["passed"] and bias["inconclusive"] == 2
    assert bias["convention"] == "relu'(0) = 1"
    summary = pd.read_csv(out / "summary.csv").set_index("case")
    assert summary.loc["undecided", "status"] == "inconclusive" and not summary.loc["undecided", "passed"]
    assert summary.loc["undecided", "inconclusive"] == 2 and summary.loc["fine", "status"] == "pass"
    assert "1/2 cases passed, 0 failed, 1 inconclusive, 0 bad input" in (out / "summary.md").read_text()
    entries = pd.read_csv(out / "entries.csv")
    assert list(entries.columns) == [
        "case",
        "quantity",
        "tensor",
        "reference",
        "index",
        "state",
        "method",
        "actual",
        "reference_value",
        "note",
    ]
    assert entries.loc[0, "index"] == "[1][0]" and entries.loc[0, "state"] == "inconclusive"
    assert entries.loc[0, "reference_value"] == 0.2500001
    page = (out / "report.html").read_text()
    assert "INCONCLUSIVE: 1/2 cases passed, 0 failed, 1 inconclusive" in page and 'id="inconclusive"' in page
    verdicts = json.loads((out / "verdicts.json").read_text())
    assert [v["state"] for v in verdicts] == ["pass", "inconclusive"]


def test_the_store_keeps_the_states(store_url):
    from refbp.report.frames import stored_frames
    from refbp.store import RunRecord, open_store, record_run, run_checks, runs_frame

    store = open_store(store_url)
    run_id = record_run(store, inconclusive_run(), RunRecord("run"))
    runs = runs_frame(store, limit=None).set_index("id")
    assert runs.loc[run_id, "inconclusive_cases"] == 1 and not runs.loc[run_id, "passed"]
    assert runs.loc[run_id, "exit_code"] == 0
    rows = run_checks(store, run_id)
    bias = rows[rows["tensor"] == "layers.0.bias"].iloc[0]
    assert bias["state"] == "inconclusive" and bias["inconclusive"] == 2 and bias["convention"] == "relu'(0) = 1"
    assert bias["case_state"] == "inconclusive" and bias["case_inconclusive"] == 2 and not bias["passed"]
    details, summary = stored_frames(rows)
    assert list(summary["status"]) == ["pass", "inconclusive"]
    assert details.loc[details["tensor"] == "layers.0.bias", "state"].tolist() == ["inconclusive"]


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite'}"
    return request.getfixturevalue("postgres_url")


def test_history_and_compare_show_the_states(tmp_path, capsys, monkeypatch):
    import refbp.check

    monkeypatch.setattr(refbp.check, "run_suite", lambda *args, **kwargs: inconclusive_run())
    assert main(["run", SEED, "--no-report", "--no-progress"]) == 0
    out = capsys.readouterr().out
    run_id = next(line for line in out.splitlines() if line.startswith("recorded as run")).split()[3]
    assert main(["history"]) == 0
    history = capsys.readouterr().out
    assert "inconclusive_cases" in history
    assert main(["history", "--run", run_id]) == 0
    assert "inconclusive" in capsys.readouterr().out
    verdicts = tmp_path / "v.json"
    verdicts.write_text(json.dumps([v.to_json() for v in inconclusive_run().verdicts]))
    assert main(["compare", str(verdicts), f"store:{run_id}", "--report-dir", str(tmp_path / "cmp")]) == 0
    out = next((tmp_path / "cmp").iterdir())
    cases = pd.read_csv(out / "cases.csv").set_index("case")
    assert set(cases.loc["undecided", cases.columns.str.endswith(": status")]) == {"inconclusive"}
    assert set(cases.loc["fine", cases.columns.str.endswith(": status")]) == {"pass"}
    tensors = pd.read_csv(out / "tensors.csv")
    states = tensors.loc[tensors["tensor"] == "layers.0.bias", tensors.columns.str.endswith(": state")]
    assert set(states.iloc[0]) == {"inconclusive"}


@pytest.mark.parametrize("strict, code", [([], 0), (["--strict"], 1)])
@pytest.mark.parametrize("command", ["run", "check"])
def test_the_exit_code_of_an_inconclusive_run(command, strict, code, monkeypatch, capsys):
    import refbp.check

    monkeypatch.setattr(refbp.check, "run_suite", lambda *args, **kwargs: inconclusive_run())
    argv = [command, SEED, "--no-report", "--no-progress", *strict]
    if command == "check":
        argv += ["--impl", "examples/numpy_mlp.py:factory"]
    assert main(argv) == code
    assert "1 inconclusive" in capsys.readouterr().out


class Probe:
    """check_case (or check_adapter_case) as a probe: it keeps the conventions it was given."""

    def __init__(self):
        self.conventions = []

    def __call__(self, case, *args, conventions="any", **kwargs):
        self.conventions.append(conventions)
        return verdict(case.id, row(tensor="layers.0.weight", reference="torch-autograd"))


@pytest.mark.parametrize("given, expected", [([], "any"), (["--conventions", "torch"], "torch")])
def test_conventions_reach_check_case_from_run(given, expected, monkeypatch):
    import refbp.check.units

    probe = Probe()
    monkeypatch.setattr(refbp.check.units, "check_case", probe)
    assert main(["run", SEED, "--no-report", "--no-progress", *given]) == 0
    assert probe.conventions == [expected]


def test_conventions_reach_the_adapter_from_check(monkeypatch):
    import refbp.check
    import refbp.check.check_adapter
    from refbp.check.units import CheckWith

    given = []
    monkeypatch.setattr(refbp.check, "run_suite", lambda *args, **kwargs: given.append(kwargs) or inconclusive_run())
    assert (
        main(
            [
                "check",
                "--impl",
                "examples/numpy_mlp.py:factory",
                SEED,
                "--no-report",
                "--no-progress",
                "--conventions",
                "torch",
            ]
        )
        == 0
    )
    assert given[0]["check_with"].conventions == "torch"
    # The adapter's checker (in whichever process runs it) hands them to check_adapter_case.
    probe = Probe()
    monkeypatch.setattr(refbp.check.check_adapter, "check_adapter_case", probe)
    checker = CheckWith(impl="examples/numpy_mlp.py:factory", conventions="torch").checker(("torch",), None)
    assert checker(load_case(SEED)).state is VerdictState.PASS and probe.conventions == ["torch"]


def test_conventions_reach_a_unit_of_work(monkeypatch):
    import refbp.check.units
    from refbp.check.units import CheckWith, case_unit, check_unit

    probe = Probe()
    monkeypatch.setattr(refbp.check.units, "check_case", probe)
    unit = case_unit(load_case(SEED), ("torch",), None, CheckWith(conventions="torch"))
    assert check_unit(unit).state is VerdictState.PASS and probe.conventions == ["torch"]


def test_conventions_reach_check_case_from_verify(monkeypatch, tmp_path):
    import refbp.check.verify
    from refbp.bench.service import result_document

    seen = []
    real = refbp.check.verify.check_case

    def probe(*args, conventions="any", **kwargs):
        seen.append(conventions)
        return real(*args, conventions=conventions, **kwargs)

    monkeypatch.setattr(refbp.check.verify, "check_case", probe)
    result = tmp_path / "seed.json"
    result.write_text(json.dumps(result_document("seed-2-2-2")))
    assert main(["verify", str(result), "--no-report", "--conventions", "torch", "--oracle", "torch"]) == 0
    assert seen == ["torch"]


def test_conventions_reach_check_case_from_fuzz(monkeypatch):
    pytest.importorskip("hypothesis")
    from refbp.fuzz.draw import draw_example
    from refbp.fuzz.unit import Target, check_document

    probe = Probe()
    # The module (refbp.check's own name check_case is the function).
    monkeypatch.setattr(importlib.import_module("refbp.check.check_case"), "check_case", probe)
    document = next(d for d in (draw_example(0, i, "mlp", "float64") for i in range(20)) if d is not None)
    outcome = check_document(0, document, Target(conventions="torch"))
    assert probe.conventions == ["torch"] and outcome.passed and not outcome.failed


def test_a_fuzz_run_counts_inconclusive_examples_apart():
    from refbp.fuzz.run import FuzzOptions, FuzzRun
    from refbp.fuzz.summary import summary_lines
    from refbp.fuzz.unit import ExampleOutcome

    outcomes = [ExampleOutcome(0, {"x": 1}), ExampleOutcome(1, {"x": 2}, passed=False, inconclusive=True)]
    run = FuzzRun(FuzzOptions(), outcomes=outcomes, seconds=1.0)
    assert not run.failed and len(run.inconclusive) == 1 and run.exit_code() == 0
    assert FuzzRun(FuzzOptions(strict=True), outcomes=outcomes, seconds=1.0).exit_code() == 1
    assert "0 failed, 1 inconclusive" in summary_lines(run)[0]
    assert FuzzOptions(conventions="torch").command().endswith("--conventions torch")


def test_the_pytest_plugin_skips_an_inconclusive_case_and_fails_it_when_strict(monkeypatch):
    import refbp.check.check_adapter
    from refbp.check.adapter import load_factory
    from refbp.pytest_plugin import CaseFailed, assert_case_passes

    seen = []

    def inconclusive(case, *args, conventions="any", **kwargs):
        seen.append(conventions)
        return verdict(case.id, row(inconclusive=3))

    # A callable factory is checked in this process (a MODULE:FACTORY text in a guarded worker).
    monkeypatch.setattr(refbp.check.check_adapter, "check_adapter_case", inconclusive)
    factory = load_factory("examples/numpy_mlp.py:factory")
    with pytest.raises(pytest.skip.Exception, match="inconclusive"):
        assert_case_passes(factory, SEED, conventions="torch")
    with pytest.raises(CaseFailed, match="INCONCLUSIVE"):
        assert_case_passes(factory, SEED, strict=True)
    assert seen == ["torch", "any"]


def test_the_service_answers_with_the_state_and_takes_conventions(monkeypatch, tmp_path):
    import refbp.service.verifier
    from refbp.bench.service import result_document
    from refbp.service.app import create_app
    from refbp.service.settings import Settings

    seen = []

    def judge(results, suite, conventions="any", **kwargs):
        seen.append(conventions)
        return [inconclusive_run().verdicts[1]]

    monkeypatch.setattr(refbp.service.verifier, "warm_up", lambda suite: None)
    monkeypatch.setattr(refbp.service.verifier, "judge_results", judge)
    app = create_app(Settings(case_paths=(str(SUITE_DIR / "seed"),), database=f"sqlite:///{tmp_path / 's.sqlite'}"))
    body = json.dumps(result_document("seed-2-2-2"))

    async def scenario():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            headers = {"content-type": "application/json"}
            answer = await client.post("/v1/verify?conventions=torch", content=body, headers=headers)
            wrong = await client.post("/v1/verify?conventions=mine", content=body, headers=headers)
            stored = await client.get(answer.headers["location"])
            page = await client.get(f"/runs/{answer.headers['x-refbp-run']}")
            openapi = await client.get("/openapi.json")
            return answer, wrong, stored, page, openapi

    answer, wrong, stored, page, openapi = asyncio.run(scenario())
    assert answer.status_code == 200 and seen == ["torch"]
    assert answer.json()["state"] == "inconclusive" and answer.json()["passed"] is False
    assert wrong.status_code == 422 and "conventions" in wrong.json()["detail"]
    run = stored.json()
    assert run["run"]["inconclusive_cases"] == 1 and run["run"]["passed"] is False
    assert {r["state"] for r in run["rows"]} == {"pass", "inconclusive"}
    assert "INCONCLUSIVE: 0/1 cases passed, 0 failed, 1 inconclusive" in page.text
    parameters = openapi.json()["paths"]["/v1/verify"]["post"]["parameters"]
    assert [p["schema"].get("enum") for p in parameters if p["name"] == "conventions"] == [["any", "torch"]]


def test_short_notes():
    assert (
        short_note({"judged:richardson": 24, "judged:central": 6, "kink:torch judges": 3, "inconclusive": 1})
        == "30 judged (24 richardson, 6 central), 3 at a kink (torch judges), "
        "1 inconclusive"
    )
    assert (
        short_note({"kink:relu'(0) = 1": 2, "kink:bce: torch backward": 1})
        == "3 at a kink (2 relu'(0) = 1, 1 bce: torch backward)"
    )
    assert short_note({"judged": 10, "failed": 0}) == "10 judged"
    assert short_note({}) == ""
    many = short_note({f"judged:m{i}": 10 - i for i in range(5)})
    assert many == "40 judged (10 m0, 9 m1, 8 m2, +13 more)" and len(many) < 60


def test_the_entries_writer_takes_records():
    from refbp.report.frames import entries_table

    empty = entries_table([])
    assert (
        list(empty.columns)
        == ["case", "quantity", "tensor", "reference", "index", "state", "method", "actual", "reference_value", "note"]
        and empty.empty
    )
    table = entries_table([ENTRY, ENTRY])
    assert list(table["index"]) == ["[1][0]", "[1][0]"] and list(table["state"]) == ["inconclusive"] * 2
