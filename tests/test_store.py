"""The verdict store on SQLite and on a real PostgreSQL server: runs land whole, concurrent
writers both land, an interrupted write leaves nothing, and `refbp history` reads them back."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from dataclasses import replace

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from refbp.check import run_suite
from refbp.cli import main
from refbp.report.frames import stored_frames, stored_through_time
from refbp.report.page import Page
from refbp.report.run_page import run_html
from refbp.store import RunRecord, database, open_store, record, record_run, run_checks, runs_frame


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture(scope="module")
def seed_run():
    return run_suite(["cases/seed"], progress=False)


def counts(store) -> tuple[int, int, int]:
    with store.engine.connect() as connection:
        return tuple(
            connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for table in (store.runs, store.case_verdicts, store.checks)
        )


def clear(store) -> None:
    with store.engine.begin() as connection:
        for table in (store.checks, store.case_verdicts, store.runs):
            connection.execute(table.delete())


def test_a_run_is_recorded_and_read_back(store_url, seed_run):
    store = open_store(store_url)
    clear(store)
    run_id = record_run(store, seed_run, RunRecord("run", implementation_version="1.2"))
    runs = runs_frame(store)
    assert list(runs["id"]) == [run_id]
    assert runs.loc[0, "implementation"] == seed_run.implementation
    assert runs.loc[0, "implementation_version"] == "1.2"
    assert bool(runs.loc[0, "passed"]) and runs.loc[0, "cases"] == 1
    rows = run_checks(store, run_id)
    verdict = seed_run.verdicts[0]
    assert len(rows) == len(verdict.checks)
    assert set(rows["case_hash"]) == {verdict.case_hash} and len(verdict.case_hash) == 64
    worst = max(verdict.checks, key=lambda c: c.max_abs_err)
    assert rows["max_abs_err"].max() == pytest.approx(worst.max_abs_err, rel=1e-15)
    with pytest.raises(KeyError):
        run_checks(store, "no-such-run")


def test_non_finite_errors_and_bad_input_are_kept(store_url, seed_run):
    from refbp.check import CaseVerdict, Check, SuiteRun

    missing = Check(
        quantity="grads",
        tensor="layers.0.weight",
        reference="torch-autograd",
        max_abs_err=math.inf,
        max_rel_err=math.nan,
        worst_index=[],
        atol=1e-9,
        rtol=1e-7,
        passed=False,
        note="not computed by the implementation",
    )
    run = SuiteRun(
        verdicts=[
            CaseVerdict(case="a", implementation="impl", passed=False, checks=[missing]),
            CaseVerdict(
                case="b",
                implementation="impl",
                passed=False,
                errors=["b.json: params: not an array"],
                error_kind="input",
            ),
        ],
        started="2026-01-01T00:00:00+00:00",
        implementation="impl",
    )
    store = open_store(store_url)
    clear(store)
    rows = run_checks(store, record_run(store, run, RunRecord("verify")))
    assert len(rows) == 2
    failed = rows[rows["case_id"] == "a"].iloc[0]
    assert failed["max_abs_err"] is None or math.isnan(failed["max_abs_err"])
    assert failed["note"] == "not computed by the implementation"
    bad = rows[rows["case_id"] == "b"].iloc[0]
    assert bad["error_kind"] == "input" and bad["errors"] == ["b.json: params: not an array"]
    assert runs_frame(store).loc[0, "exit_code"] == 2


def test_an_interrupted_write_leaves_no_partial_run(store_url, seed_run, monkeypatch):
    store = open_store(store_url)
    clear(store)
    record_run(store, seed_run, RunRecord("run"))
    before = counts(store)
    calls = {"n": 0}
    original = record._check_row

    def failing(verdict_id, check):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt  # as Ctrl-C in the middle of the rows
        return original(verdict_id, check)

    monkeypatch.setattr(record, "_check_row", failing)
    with pytest.raises(KeyboardInterrupt):
        record_run(store, seed_run, RunRecord("run"))
    assert calls["n"] == 5
    assert counts(store) == before


WRITER = textwrap.dedent("""
    import sys
    from refbp.check import SuiteRun, CaseVerdict
    from refbp.store import RunRecord, open_store, record_run
    url, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    store = open_store(url)
    for i in range(count):
        verdicts = [CaseVerdict(case=f"case-{j}", implementation=name, passed=True) for j in range(20)]
        run = SuiteRun(verdicts=verdicts,
                       started=f"2026-01-01T00:00:{i:02d}+00:00", implementation=name)
        record_run(store, run, RunRecord("run"))
""")


def test_concurrent_writers_both_land(store_url, tmp_path):
    """Two processes open a store that has no tables yet and write at the same time."""
    if store_url.startswith("postgresql"):
        with open_store(store_url).engine.begin() as connection:  # back to an empty database
            connection.execute(
                sa.text("DROP TABLE IF EXISTS idempotency, checks, case_verdicts, runs, alembic_version")
            )
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    writers = [
        subprocess.Popen([sys.executable, str(script), store_url, name, "15"], stderr=subprocess.PIPE, text=True)
        for name in ("writer-a", "writer-b")
    ]
    errors = [w.communicate(timeout=120)[1] for w in writers]
    assert [w.returncode for w in writers] == [0, 0], errors
    store = open_store(store_url)
    runs = runs_frame(store, limit=None)
    assert sorted(runs["implementation"].value_counts().items()) == [("writer-a", 15), ("writer-b", 15)]
    assert counts(store)[1] == 30 * 20


def test_history_command_lists_runs_and_rows(store_url, seed_run, capsys):
    store = open_store(store_url)
    clear(store)
    run_id = record_run(store, seed_run, RunRecord("run"))
    record_run(store, run_suite(["cases/seed"], progress=False), RunRecord("check"))
    assert main(["history", "--database", store_url]) == 0
    out = capsys.readouterr()
    assert "2 run(s)" in out.err and out.out.count(seed_run.implementation) == 2
    assert main(["history", "--database", store_url, "--implementation", "no such thing"]) == 0
    assert "0 run(s)" in capsys.readouterr().err
    assert main(["history", "--database", store_url, "--run", run_id, "--all"]) == 0
    assert "layers.1.weight" in capsys.readouterr().out
    assert main(["history", "--database", store_url, "--run", "nope"]) == 2
    assert "no run 'nope'" in capsys.readouterr().err


def test_an_unreachable_store_is_one_line():
    assert main(["history", "--database", "postgresql+psycopg://nobody@127.0.0.1:1/none"]) == 2


def test_the_default_store_is_sqlite_in_the_user_data_folder(monkeypatch, tmp_path):
    from refbp.store import default_url

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_url() == f"sqlite:///{tmp_path / 'refbp' / 'verdicts.sqlite'}"


def store_at(url: str, revision: str) -> sa.Engine:
    """An empty store (every table dropped) migrated to `revision` only, as an older refbp left it."""
    engine = database._engine(sa.make_url(url))
    with engine.begin() as connection:
        for table in ("idempotency", "checks", "case_verdicts", "runs", "alembic_version"):
            connection.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
        config = Config()
        config.set_main_option("script_location", str(database.MIGRATIONS))
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    return engine


def test_a_store_of_migration_0002_with_runs_upgrades_and_keeps_them(store_url, tmp_path):
    """0003 adds what the pages show (titles, through-time norms, first departures, diagnoses);
    runs stored under 0002 stay readable and their pages draw, and new runs keep the new fields."""
    engine = store_at(store_url, "0002")
    tables = sa.MetaData()
    tables.reflect(bind=engine)
    with engine.begin() as connection:  # a run as 0002 stored it
        connection.execute(
            tables.tables["runs"].insert(),
            dict(
                id="old-run",
                command="verify",
                started="2026-01-01T00:00:00+00:00",
                seconds=0.5,
                implementation="old",
                implementation_version="",
                refbp_version="0.9",
                passed=False,
                exit_code=1,
                cases=1,
                failed_cases=1,
                environment={},
            ),
        )
        verdict_id = connection.execute(
            tables.tables["case_verdicts"].insert(),
            dict(
                run_id="old-run",
                case_id="rnn-t1-tanh-mse",
                case_hash="0" * 64,
                implementation="old",
                passed=False,
                error_kind="",
                errors=[],
                not_provided=[],
                path="r.json",
                network="rnn",
                dtype="float64",
                seconds=0.1,
            ),
        ).inserted_primary_key[0]
        connection.execute(
            tables.tables["checks"].insert(),
            dict(
                case_verdict_id=verdict_id,
                quantity="grads",
                tensor="rnn.weight_hh_l0",
                reference="torch-autograd",
                method="",
                passed=False,
                max_abs_err=0.5,
                max_rel_err=0.25,
                worst_index=[0, 0],
                atol=1e-9,
                rtol=1e-7,
                checked=1,
                note="",
                actual=1.5,
                expected_value=1.0,
            ),
        )
    engine.dispose()
    store = open_store(store_url)  # upgrades to the newest migration
    with store.engine.connect() as connection:
        assert connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one() == "0005"
    old = run_checks(store, "old-run")
    assert len(old) == 1 and old.loc[0, "actual"] == 1.5
    assert old.loc[0, "through_time"] is None and old.loc[0, "diagnosis"] is None
    details, summary = stored_frames(old)
    assert stored_through_time(old) == {} and summary.loc[0, "status"] == "FAIL"
    assert "rnn.weight_hh_l0" in run_html(Page("old", [], [], {}), details, summary, [])

    rnn = run_suite(["cases/rnn/rnn-t1-tanh-mse.json"], progress=False)
    first = replace(rnn.verdicts[0].checks[0], diagnosis="transposed", diagnosis_note="the gradient's transpose")
    verdict = replace(
        rnn.verdicts[0], first_departure="layers.0.out (at step 1)", checks=(first, *rnn.verdicts[0].checks[1:])
    )
    rnn.verdicts[0] = verdict
    new = run_checks(store, record_run(store, rnn, RunRecord("run")))
    [(title, norms)] = stored_through_time(new).values()
    assert title == verdict.title and norms == pytest.approx(verdict.through_time, rel=1e-15)
    assert set(new["first_departure"]) == {"layers.0.out (at step 1)"}
    assert new.loc[0, "diagnosis"] == "transposed" and new.loc[0, "diagnosis_note"] == "the gradient's transpose"
    assert new["nondifferentiable"].notna().all()


def test_a_store_of_migration_0003_with_runs_upgrades_to_the_three_states(store_url):
    """0004 adds the states (pass, fail, inconclusive), the inconclusive entries and the row's
    convention; a run stored under 0003 reads pass or fail from `passed`, and its page draws."""
    engine = store_at(store_url, "0003")
    tables = sa.MetaData()
    tables.reflect(bind=engine)
    with engine.begin() as connection:  # a run as 0003 stored it
        connection.execute(
            tables.tables["runs"].insert(),
            dict(
                id="run-0003",
                command="run",
                started="2026-01-02T00:00:00+00:00",
                seconds=0.5,
                implementation="old",
                implementation_version="",
                refbp_version="0.9",
                passed=True,
                exit_code=0,
                cases=1,
                failed_cases=0,
                environment={},
            ),
        )
        verdict_id = connection.execute(
            tables.tables["case_verdicts"].insert(),
            dict(
                run_id="run-0003",
                case_id="seed-2-2-2",
                case_hash="0" * 64,
                implementation="old",
                passed=True,
                error_kind="",
                errors=[],
                not_provided=[],
                path="seed.json",
                network="mlp",
                dtype="float64",
                seconds=0.1,
                title="seed",
            ),
        ).inserted_primary_key[0]
        connection.execute(
            tables.tables["checks"].insert(),
            dict(
                case_verdict_id=verdict_id,
                quantity="grads",
                tensor="layers.0.weight",
                reference="torch-autograd",
                method="",
                passed=True,
                max_abs_err=0.0,
                max_rel_err=0.0,
                worst_index=[0, 0],
                atol=1e-9,
                rtol=1e-7,
                checked=4,
                note="",
                actual=1.0,
                expected_value=1.0,
            ),
        )
    engine.dispose()
    store = open_store(store_url)
    old = run_checks(store, "run-0003")
    assert old.loc[0, "state"] is None and old.loc[0, "case_state"] is None and old.loc[0, "convention"] is None
    assert runs_frame(store, limit=None).set_index("id").loc["run-0003", "inconclusive_cases"] is None
    details, summary = stored_frames(old)
    assert list(summary["status"]) == ["pass"] and list(details["state"]) == ["pass"]
    assert "PASS: 1/1 cases passed" in run_html(Page("old", [], [], {}), details, summary, [])


def test_a_stored_environment_keeps_no_credential(tmp_path, seed_run):
    """The store redacts at its source: whatever a command line or a URL in a run's environment
    carries, the password is not written."""
    store = open_store(f"sqlite:///{tmp_path / 'store.sqlite'}")
    environment = {
        "command": "refbp run --database postgresql+psycopg://bob:s3cret-pw@db.example/v --token t0k3n-x",
        "extra": {"url": "https://user:s3cret-pw@git.example/r"},
    }
    run_id = record_run(store, seed_run, RunRecord("run", environment=environment))
    with store.engine.connect() as connection:
        stored = connection.execute(sa.select(store.runs.c.environment).where(store.runs.c.id == run_id)).scalar_one()
    assert "s3cret-pw" not in str(stored) and "t0k3n-x" not in str(stored)
    assert stored["command"] == "refbp run --database postgresql+psycopg://bob:***@db.example/v --token ***"
