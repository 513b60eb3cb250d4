"""Shared test fixtures. CUDA tests carry the `cuda` marker and are skipped without a GPU.

Every test writes its verdict store to a temporary SQLite file (never the user's), and the
`postgres_url` fixture starts a real PostgreSQL server (tests/postgres_server.py): under
CI=true a missing server fails the tests that need it; elsewhere they skip, saying why.
"""

from __future__ import annotations

import copy
import json
import os

import pytest

from postgres_server import postgres_server, server_binaries
from refbp.cases import SUITE_DIR, parse_case

SEED_PATH = SUITE_DIR / "seed" / "seed-2-2-2.json"


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def pytest_collection_modifyitems(config, items):
    if _cuda_available():
        return
    skip = pytest.mark.skip(reason="cuda: no CUDA device on this machine")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def seed_document() -> dict:
    """A fresh copy of the seed case's JSON document (safe to modify)."""
    return copy.deepcopy(json.loads(SEED_PATH.read_text()))


@pytest.fixture
def seed_case():
    return parse_case(json.loads(SEED_PATH.read_text()), SEED_PATH)


@pytest.fixture(autouse=True)
def private_verdict_store(tmp_path_factory, monkeypatch):
    """The verdict store of every test: a fresh SQLite file, so no test writes the user's store."""
    path = tmp_path_factory.mktemp("store") / "verdicts.sqlite"
    monkeypatch.setenv("REFBP_DATABASE_URL", f"sqlite:///{path}")


def missing_component(reason: str):
    """Skip outside CI; under CI=true a missing component fails (CI must have installed it)."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_url():
    if server_binaries() is None:
        missing_component("PostgreSQL's initdb is not installed (Debian package postgresql)")
    with postgres_server() as url:
        yield url
