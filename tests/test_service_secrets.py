"""No secret is shown: one redaction function hides credentials (a PostgreSQL URL's password
among them); a real `refbp serve` on a real PostgreSQL server whose URL carries a password, and
one on a SQLite file in a named folder, show neither the password, the URL nor the path on any
page, in any error (404s included) or in the runs they store, and their pages say the version,
the platform and the kind of store instead."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import sqlalchemy as sa

from refbp import __version__
from refbp.bench.service import result_document
from refbp.cases import SUITE_DIR
from refbp.service.app import create_app
from refbp.service.process import serving
from refbp.service.settings import Settings
from refbp.store import open_store, redacted
from service_server import AUTH, TOKEN

SECRET = "hunter2-Secret-pw"
SEED = ("--cases", "cases/seed")


@pytest.mark.parametrize(
    "text, shown",
    [
        (
            f"postgresql+psycopg://alice:{SECRET}@db.example:5432/refbp",
            "postgresql+psycopg://alice:***@db.example:5432/refbp",
        ),
        (f"postgresql://alice:{SECRET}@with@db.example/refbp", "postgresql://alice:***@db.example/refbp"),
        (
            f"refbp serve --database postgresql://a:{SECRET}@h/db --token {SECRET}",
            "refbp serve --database postgresql://a:***@h/db --token ***",
        ),
        (f"host=db.example password={SECRET} dbname=refbp", "host=db.example password=*** dbname=refbp"),
        (f"https://{SECRET}-0123456789@git.example/x", "https://***@git.example/x"),
        ("sqlite:////home/me/verdicts.sqlite", "sqlite:////home/me/verdicts.sqlite"),
        ("postgresql://alice@db.example/refbp", "postgresql://alice@db.example/refbp"),
    ],
)
def test_redacted_hides_every_credential_and_keeps_the_rest(text, shown):
    assert redacted(text) == shown and SECRET not in redacted(text)


PATHS = (
    "/",
    "/runs/{run}",
    "/compare?runs={run}",
    "/docs",
    "/openapi.json",
    "/v1/runs",
    "/v1/runs/{run}",
    "/v1/compare?runs={run}",
    "/readyz",
    "/healthz",
    "/v1/runs/no-such-run",
    "/runs/no-such-run",
    "/v1/compare?runs=ffffffffff",
    "/compare?runs=ffffffffff",
    "/v1/cases/no-such-case",
    "/v1/schemas/nope",
)


def everything_shown(client) -> tuple[str, str]:
    """(every page and answer the server gives, one after the other; the index page)."""
    answer = client.post(
        "/v1/verify",
        content=json.dumps(result_document("seed-2-2-2")),
        headers={"content-type": "application/json", **AUTH},
    )
    assert answer.status_code == 200, answer.text
    run = answer.headers["x-refbp-run"]
    texts = [json.dumps(dict(answer.headers)) + answer.text]
    for path in PATHS:
        got = client.get(path.format(run=run))
        texts.append(json.dumps(dict(got.headers)) + got.text)
    not_json = client.post("/v1/verify", content="{", headers={"content-type": "application/json", **AUTH})
    texts.append(not_json.text)
    return "\n".join(texts), client.get("/").text


class InProcess:
    """GET and POST on an app in this process, as httpx.Client's."""

    def __init__(self, app):
        self.app = app

    def _send(self, method: str, path: str, **kwargs):
        async def send():
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://test") as client:
                return await client.request(method, path, **kwargs)

        return asyncio.run(send())

    def get(self, path, **kwargs):
        return self._send("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self._send("POST", path, **kwargs)


def stored_environments(url: str) -> str:
    store = open_store(url)
    with store.engine.connect() as connection:
        rows = connection.execute(sa.select(store.runs.c.environment)).scalars().all()
    store.engine.dispose()
    return json.dumps(rows)


def test_no_password_url_or_path_on_a_postgresql_server(postgres_url, tmp_path):
    with_password = sa.make_url(postgres_url).set(password=SECRET)
    url = with_password.render_as_string(hide_password=False)  # the test server trusts any password
    environment = {"REFBP_DATABASE_URL": url, "REFBP_TOKEN": TOKEN}
    with (
        serving(SEED, environment, log=tmp_path / "serve.log") as (base, _process),
        httpx.Client(base_url=base, timeout=60) as client,
    ):
        shown, index = everything_shown(client)
    log = (tmp_path / "serve.log").read_text()
    for secret in (SECRET, url, f"{with_password.host}:{with_password.port}"):
        assert secret not in shown
    assert SECRET not in log
    assert "postgresql+psycopg://postgres:***@" in log  # the start line names the store, password hidden
    assert SECRET not in stored_environments(postgres_url) and "command" not in stored_environments(postgres_url)
    assert __version__ in index and "postgresql" in index


def test_no_store_path_on_a_sqlite_server(tmp_path):
    """The app in process (the pages and errors are the app's; the server process is the test above)."""
    folder = tmp_path / "private-folder-7f3a"
    folder.mkdir()
    url = f"sqlite:///{folder / 'verdicts.sqlite'}"
    app = create_app(Settings(case_paths=(str(SUITE_DIR / "seed"),), database=url, token=TOKEN))
    shown, index = everything_shown(InProcess(app))
    assert "private-folder-7f3a" not in shown and str(tmp_path) not in shown
    assert "private-folder-7f3a" not in stored_environments(url)
    assert __version__ in index and "sqlite" in index
