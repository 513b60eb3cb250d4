"""The service as a real `refbp serve` process for a test module (one per module, not per test):
127.0.0.1, a free port, its own SQLite store and the token `TOKEN` for writes."""

from __future__ import annotations

import contextlib

from refbp.service.process import serving

TOKEN = "test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@contextlib.contextmanager
def service_process(folder, *arguments):
    environment = {
        "REFBP_DATABASE_URL": f"sqlite:///{folder / 'verdicts.sqlite'}",
        "REFBP_TOKEN": TOKEN,
        "REFBP_CORS_ORIGINS": "",
    }
    with serving(arguments, environment, log=folder / "serve.log") as (base, process):
        yield base, process
