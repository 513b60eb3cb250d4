"""The service's routes are given what they need (refbp.service.deps), so that a test swaps one
with `app.dependency_overrides` and patches nothing: a verifier whose store cannot be written
(503, the verdict marked not stored, nothing recorded), other tokens (401 without them, 200
with them), and a store that is off (the reads say so)."""

from __future__ import annotations

import asyncio
import json
import sqlite3

import httpx
import pytest
import sqlalchemy as sa

from refbp.bench.service import result_document
from refbp.cases import SUITE_DIR
from refbp.service.app import create_app
from refbp.service.deps import Tokens, store_of, tokens_of, verifier_of
from refbp.service.settings import Settings

JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('store') / 'verdicts.sqlite'}"
    return create_app(Settings(case_paths=(str(SUITE_DIR / "seed"),), database=url))


@pytest.fixture(autouse=True)
def no_overrides(app):
    yield
    app.dependency_overrides.clear()


@pytest.fixture(scope="module")
def body():
    return json.dumps(result_document("seed-2-2-2"))


def ask(app, method: str, path: str, **kwargs):
    async def scenario():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            return await client.request(method, path, **kwargs)

    return asyncio.run(scenario())


def stored_runs(app) -> int:
    store = app.state.verifier.store
    with store.engine.connect() as connection:
        return connection.execute(sa.select(sa.func.count()).select_from(store.runs)).scalar_one()


class Unwritable:
    """The real verifier, whose store refuses every write as a read-only SQLite file does."""

    def __init__(self, real):
        self.real, self.attempts = real, 0

    def __getattr__(self, name):
        return getattr(self.real, name)

    def keep(self, *args, **kwargs):
        self.attempts += 1
        raise sa.exc.OperationalError(
            "INSERT INTO runs", {}, sqlite3.OperationalError("attempt to write a readonly database")
        )


def test_a_verifier_that_cannot_write_answers_503_with_the_verdict_not_stored(app, body):
    before = stored_runs(app)
    stub = Unwritable(app.state.verifier)
    app.dependency_overrides[verifier_of] = lambda: stub
    answer = ask(app, "POST", "/v1/verify", content=body, headers=JSON)
    assert answer.status_code == 503, answer.text
    assert answer.headers["x-refbp-stored"] == "false" and answer.headers["retry-after"]
    document = answer.json()
    assert document["stored"] is False and "readonly database" in document["detail"]
    assert document["answer"]["passed"] is True and document["answer"]["case"] == "seed-2-2-2"
    assert stub.attempts == 2  # tried, then tried once more
    assert stored_runs(app) == before
    app.dependency_overrides.clear()
    again = ask(app, "POST", "/v1/verify", content=body, headers=JSON)  # the real one, untouched
    assert again.status_code == 200 and stored_runs(app) == before + 1


def test_tokens_swapped_in_are_the_ones_asked_for(app, body):
    assert ask(app, "GET", "/v1/runs").status_code == 200  # the app's own settings: open on loopback
    app.dependency_overrides[tokens_of] = lambda: Tokens(
        token="write-0123", read_token="read-0123", reads_need_token=True
    )
    assert ask(app, "POST", "/v1/verify", content=body, headers=JSON).status_code == 401
    assert ask(app, "GET", "/v1/runs").status_code == 401
    assert ask(app, "GET", "/v1/runs", headers={"Authorization": "Bearer read-0123"}).status_code == 200
    assert ask(app, "GET", "/", headers={"Authorization": "Bearer write-0123"}).status_code == 200
    assert (
        ask(app, "POST", "/v1/verify", content=body, headers={**JSON, "Authorization": "Bearer read-0123"}).status_code
        == 401
    )
    written = ask(app, "POST", "/v1/verify", content=body, headers={**JSON, "Authorization": "Bearer write-0123"})
    assert written.status_code == 200, written.text
    assert ask(app, "GET", "/healthz").status_code == 200  # liveness needs no token


def test_a_store_swapped_off_is_said_to_be_off(app):
    def off():
        from fastapi import HTTPException

        raise HTTPException(404, "the verdict store is off (REFBP_DATABASE_URL=none)")

    app.dependency_overrides[store_of] = off
    for path in ("/v1/runs", "/", "/v1/runs/0123456789abcdef"):
        answer = ask(app, "GET", path)
        assert answer.status_code == 404 and "store is off" in answer.json()["detail"], path
