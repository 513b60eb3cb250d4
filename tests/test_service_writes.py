"""What POST /v1/verify writes: one run per answer of 200, and nothing for a request answered
4xx or 5xx (an unknown case or field, a lone surrogate, a string too long, a body not declared
JSON, a check past its time); an `Idempotency-Key` makes retries, even concurrent ones, get the
first answer and leave one run, on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
import sqlalchemy as sa

from refbp.bench.service import result_document
from refbp.cases import SUITE_DIR
from refbp.service.app import create_app
from refbp.service.settings import Limits, Settings
from refbp.store import open_store

JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def correct():
    return result_document("seed-2-2-2")


def fresh_url(kind: str, request, tmp_path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'verdicts.sqlite'}"
    url = request.getfixturevalue("postgres_url")
    with open_store(url).engine.begin() as connection:  # a store of its own: the tables emptied
        for table in ("idempotency", "checks", "case_verdicts", "runs"):
            connection.execute(sa.text(f"DELETE FROM {table}"))
    return url


def app_on(url: str, **limits):
    return create_app(Settings(case_paths=(str(SUITE_DIR / "seed"),), database=url, limits=Limits(**limits)))


def stored_runs(app) -> int:
    store = app.state.verifier.store
    with store.engine.connect() as connection:
        return connection.execute(sa.select(sa.func.count()).select_from(store.runs)).scalar_one()


def posts(app, *requests):
    """The answers to (body, headers) requests sent at once."""

    async def scenario():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            return await asyncio.gather(
                *(
                    client.post(
                        "/v1/verify",
                        content=body if isinstance(body, (str, bytes)) else json.dumps(body),
                        headers={**JSON, **headers},
                    )
                    for body, headers in requests
                )
            )

    return asyncio.run(scenario())


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_retries_with_one_idempotency_key_get_the_first_answer_and_leave_one_run(kind, correct, request, tmp_path):
    app = app_on(fresh_url(kind, request, tmp_path))
    key = {"Idempotency-Key": "build-4711-seed"}
    answers = posts(app, *[(correct, key)] * 6)  # concurrent: both check threads judge, one commits first
    assert [a.status_code for a in answers] == [200] * 6, [a.text for a in answers]
    assert len({a.headers["x-refbp-run"] for a in answers}) == 1
    assert len({a.text for a in answers}) == 1
    assert sum(a.headers.get("idempotent-replayed") == "true" for a in answers) == 5
    [again] = posts(app, (correct, key))
    assert again.headers["x-refbp-run"] == answers[0].headers["x-refbp-run"] and again.text == answers[0].text
    [other] = posts(app, (dict(correct, implementation="another"), key))
    assert other.status_code == 422 and other.json()["detail"] == "Idempotency-Key: already used with another request"
    [fresh] = posts(app, (correct, {"Idempotency-Key": "build-4712-seed"}))
    assert fresh.status_code == 200 and fresh.headers["x-refbp-run"] != answers[0].headers["x-refbp-run"]
    assert stored_runs(app) == 2


def long(document):
    return dict(document, implementation="x" * 201)


@pytest.mark.parametrize(
    "change, status, words",
    [
        (lambda d: dict(d, case="no-such-case"), 422, "case"),
        (lambda d: dict(d, surprise=1), 422, "surprise"),
        (lambda d: json.dumps(dict(d, implementation="bad-\ud800-name")), 422, "lone surrogate"),
        (lambda d: json.dumps(d).replace('"layers.0.weight"', '"layers.0.weight\\ud800"', 1), 422, "lone surrogate"),
        (lambda d: dict(d, implementation="nul\x00"), 422, "NUL"),
        (long, 422, "implementation: 201 characters"),
        (lambda d: dict(d, intermediates={f"t{i}": [0.0] * 300_000 for i in range(4)}), 422, "numbers in one result"),
        (lambda d: dict(d, error_signals={"e": [[0.0] * 1000] * 1001}), 422, "error_signals.e"),
        (lambda d: '{"format": "refbp-result/1", "case": ', 400, "line 1"),
    ],
)
def test_a_request_answered_4xx_writes_nothing(tmp_path, correct, change, status, words):
    app = app_on(f"sqlite:///{tmp_path / 'verdicts.sqlite'}", max_body_bytes=64 << 20)
    [answer] = posts(app, (change(correct), {}))
    assert answer.status_code == status, answer.text
    assert words in answer.json()["detail"] and "\n" not in answer.json()["detail"]
    assert stored_runs(app) == 0


def test_a_write_that_is_not_json_is_415_and_writes_nothing(tmp_path, correct):
    """A web page may POST text/plain anywhere without asking (CSRF): the service refuses it."""
    app = app_on(f"sqlite:///{tmp_path / 'verdicts.sqlite'}")
    for kind in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""):
        [answer] = posts(app, (json.dumps(correct), {"content-type": kind}))
        assert answer.status_code == 415, (kind, answer.text)
    assert stored_runs(app) == 0
    [json_with_charset] = posts(app, (json.dumps(correct), {"content-type": "application/json; charset=utf-8"}))
    assert json_with_charset.status_code == 200 and stored_runs(app) == 1


def test_a_check_answered_503_past_its_time_is_not_recorded(tmp_path, correct):
    """Each check here outlives its request's 1 ms, but for one whose recording began before the
    request gave up (then the request waits for it and answers 200): every 200 is one run, no 503 is."""
    app = app_on(f"sqlite:///{tmp_path / 'verdicts.sqlite'}", request_seconds=0.001)
    # Each judging sleeps first (letting go of the GIL): a fast check under a loaded machine could
    # otherwise hold the GIL past the 1 ms and begin its recording before the request timed out,
    # and then every answer is a 200 (seen once in a full run at load 5).
    verify = app.state.verifier.verify

    def slow_verify(*args, **kwargs):
        time.sleep(0.05)
        return verify(*args, **kwargs)

    app.state.verifier.verify = slow_verify
    answers = posts(app, *[(correct, {})] * 4)
    statuses = [a.status_code for a in answers]
    assert set(statuses) <= {200, 503} and 503 in statuses
    assert all(a.headers["retry-after"] for a in answers if a.status_code == 503)
    deadline = time.monotonic() + 60  # the checks go on in their threads after the 503s
    while app.state.pool.taken and time.monotonic() < deadline:
        time.sleep(0.05)
    assert app.state.pool.taken == 0
    assert stored_runs(app) == statuses.count(200)
