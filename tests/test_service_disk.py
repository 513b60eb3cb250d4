"""A full disk under a running `refbp serve`: its SQLite store on a small tmpfs that is then filled
to the last byte. Every verdict is still answered: 200 when its run was stored, 503 with the
verdict and `"stored": false` when the store could not take it, and the store holds exactly
the runs answered 200; /readyz says it is not ready while /healthz says it is alive; once space
is freed the server stores again, and the store passes SQLite's integrity check. (Needs to mount a tmpfs,
as root in CI; skipped where that is not permitted.)"""

from __future__ import annotations

import errno
import json
import subprocess

import httpx
import pytest
import sqlalchemy as sa

from refbp.bench.service import result_document
from refbp.service.process import serving
from service_server import AUTH, TOKEN

JSON = {"content-type": "application/json", **AUTH}


@pytest.fixture
def small_disk(tmp_path):
    folder = tmp_path / "disk"
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(folder)], capture_output=True, text=True, check=False
    )
    if mounted.returncode != 0:
        pytest.skip(f"a small tmpfs cannot be mounted here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, check=False)


def fill(path) -> None:
    """Write zeros to `path` until the filesystem has no byte left."""
    with open(path, "wb", buffering=0) as filler:
        try:
            while True:
                filler.write(b"\0" * 65536)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    with open(path, "ab", buffering=0) as filler:  # the last partial block
        try:
            while True:
                filler.write(b"\0")
        except OSError:
            pass


def test_a_full_disk_costs_runs_never_verdicts(small_disk, tmp_path):
    url = f"sqlite:///{small_disk / 'verdicts.sqlite'}"
    body = json.dumps(result_document("seed-2-2-2"))
    with (
        serving(
            ("--cases", "cases/seed"), {"REFBP_DATABASE_URL": url, "REFBP_TOKEN": TOKEN}, log=tmp_path / "serve.log"
        ) as (base, _process),
        httpx.Client(base_url=base, timeout=60) as client,
    ):
        assert client.post("/v1/verify", content=body, headers=JSON).status_code == 200
        fill(small_disk / "filler")
        answers = [client.post("/v1/verify", content=body, headers=JSON) for _ in range(30)]
        statuses = [a.status_code for a in answers]
        assert set(statuses) <= {200, 503} and 503 in statuses, statuses
        for answer in answers:
            if answer.status_code == 503:
                assert answer.json()["stored"] is False and answer.json()["answer"]["passed"] is True
                assert "full" in answer.json()["detail"], answer.json()["detail"]
        assert client.get("/readyz").status_code == 503 and client.get("/healthz").status_code == 200
        (small_disk / "filler").unlink()
        again = client.post("/v1/verify", content=body, headers=JSON)
        assert again.status_code == 200 and client.get("/readyz").status_code == 200
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        stored = connection.execute(sa.text("SELECT COUNT(*) FROM runs")).scalar_one()
        assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    engine.dispose()
    assert stored == 2 + statuses.count(200)  # the runs answered 200, and only those
