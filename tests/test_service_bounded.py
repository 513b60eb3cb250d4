"""Every read of the service is bounded and costs no more as the store grows (no timing: the
statements counted and the query plans read): compare reads its runs through the server's one
engine in the same few statements for a store of 30 runs or of 600, never reopening the
store; the runs list, its pages, one run and compare are served by indexes; compare refuses
more than 12 runs; a page of a run's rows says where the next one starts."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import sqlalchemy as sa

from refbp.bench.service_store import fill_store
from refbp.cases import SUITE_DIR
from refbp.service.app import create_app
from refbp.service.compare import MAX_RUNS
from refbp.service.settings import Settings
from refbp.store import named_runs, open_store, run_checks, runs_checks, runs_frame


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """An app (in process) on a SQLite store of 30 runs; more are added by the tests."""
    url = f"sqlite:///{tmp_path_factory.mktemp('bounded') / 'verdicts.sqlite'}"
    ids = fill_store(open_store(url), 30)
    app = create_app(Settings(case_paths=(str(SUITE_DIR / "seed"),), database=url))
    return app, ids


def get(app, *paths):
    async def scenario():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            return [await client.get(path) for path in paths]

    return asyncio.run(scenario())


class Statements:
    """The SQL statements every engine in this process executes while it is open, by engine."""

    def __enter__(self):
        self.seen = []
        sa.event.listen(sa.engine.Engine, "before_cursor_execute", self._seen)
        return self

    def _seen(self, connection, _cursor, statement, *_args):
        self.seen.append((connection.engine, statement))

    def __exit__(self, *_exc):
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", self._seen)


def compare_statements(app, ids) -> list[str]:
    with Statements() as statements:
        [answer] = get(app, "/v1/compare?runs=" + ",".join(ids))
    assert answer.status_code == 200, answer.text
    assert len(answer.json()) == 1 and sum(key.endswith(": status") for key in answer.json()[0]) == len(ids)
    engines = {id(engine) for engine, _ in statements.seen}
    assert engines == {id(app.state.verifier.store.engine)}, "compare opened an engine of its own"
    return [statement for _, statement in statements.seen]


def test_compare_costs_the_same_statements_in_a_store_ten_times_larger(served):
    app, ids = served
    small = compare_statements(app, ids[:MAX_RUNS])
    assert not any("alembic_version" in s for s in small), "compare ran the migrations' check"
    assert sum(s.lstrip().upper().startswith("SELECT") for s in small) == 2  # the runs named, then their rows
    more = fill_store(app.state.verifier.store, 570)
    assert compare_statements(app, more[-MAX_RUNS:]) == small
    prefixes = compare_statements(app, [run[:8] for run in more[:MAX_RUNS]])
    assert len(prefixes) == len(small)
    again = compare_statements(app, more[-MAX_RUNS:])  # stored runs never change: kept, only named again
    assert sum(s.lstrip().upper().startswith("SELECT") for s in again) == 1


def test_compare_refuses_more_runs_than_its_limit_and_unknown_names_in_one_line(served):
    app, ids = served
    too_many, unknown, short = get(
        app, "/v1/compare?runs=" + ",".join(ids[: MAX_RUNS + 1]), "/v1/compare?runs=" + "f" * 32, "/v1/compare?runs=abc"
    )
    assert too_many.status_code == 404
    assert "more than the limit of 12" in too_many.json()["detail"]
    assert unknown.status_code == 404 and "names no stored run" in unknown.json()["detail"]
    assert short.status_code == 404 and "8 or more" in short.json()["detail"]


TABLE_SCANS = [["SCAN", table] for table in ("runs", "case_verdicts", "checks", "idempotency")]


def test_the_reads_are_served_by_indexes_not_by_scanning_or_sorting(served):
    """What makes a read cost the same in any store: SQLite walks an index to the rows it returns."""
    store = served[0].state.verifier.store
    queries = []

    def capture(connection, _cursor, statement, parameters, *_args):
        queries.append((statement, parameters))

    sa.event.listen(store.engine, "before_cursor_execute", capture)
    try:
        some = runs_frame(store, limit=5)["id"].tolist()
        runs_frame(store, limit=5, before=some[-1])
        named_runs(store, [some[0], some[1][:8]])
        runs_checks(store, some)
        run_checks(store, some[0], limit=10, offset=2)
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", capture)
    selects = [(s, p) for s, p in queries if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) >= 5
    with store.engine.connect() as connection:
        for statement, parameters in selects:
            steps = [row[-1] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)]
            scans = [step for step in steps if step.split()[:2] in TABLE_SCANS and "INDEX" not in step]
            assert not scans, f"a full scan: {steps} for {statement}"
            # A sort is bounded only after SEARCH steps (the rows of the runs named); after a SCAN
            # (the runs list, even along an index) it would sort every run.
            walks = any(step.split()[:2] in TABLE_SCANS for step in steps)
            assert not (walks and any("TEMP B-TREE" in step for step in steps)), f"a sort of every run: {steps}"


def test_a_run_is_read_a_page_at_a_time(served):
    app, ids = served
    (first,) = get(app, f"/v1/runs/{ids[0]}?limit=3")
    page = first.json()
    assert len(page["rows"]) == 3 and page["next"] == f"/v1/runs/{ids[0]}?offset=3&limit=3"
    (rest,) = get(app, page["next"])
    assert len(rest.json()["rows"]) == 1 and rest.json()["next"] is None
    (listed,) = get(app, "/v1/runs?limit=5")
    newest = [run["id"] for run in listed.json()]
    (following,) = get(app, f"/v1/runs?limit=5&before={newest[-1]}")
    assert len(following.json()) == 5 and not set(newest) & {run["id"] for run in following.json()}
    (too_many,) = get(app, "/v1/runs?limit=100000")
    assert too_many.status_code == 422 and isinstance(too_many.json()["detail"], str)
