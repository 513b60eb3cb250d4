"""What the service judges with and keeps: the suite's cases (loaded once), the verdict store
(opened once, one engine for every request), and one POST /v1/verify as one `verify` run in
the store, recorded only once its answer is known to be 200 (a request answered with an
error leaves nothing).

The judging is refbp.check.verify's (`judge_results`), the parsing refbp.check.results'
(`results_in`), the recording refbp.store's: this module only holds them together.
"""

from __future__ import annotations

import platform
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from refbp import __version__
from refbp.cases import CaseError
from refbp.cases.export import explicit_document
from refbp.check.check_case import ORACLES
from refbp.check.results import results_in
from refbp.check.suite import SuiteRun
from refbp.check.verify import judge_results, load_suite, warm_up
from refbp.parallel import lasting_executor
from refbp.store import RunRecord, Store, StoreError, open_store, record_run, write_problem
from refbp.store.database import store_off

from .body import BODY


@dataclass
class Judged:
    verdicts: list  # CaseVerdict, one per result
    single: bool  # the body was one refbp-result/1 (else a bundle)
    run: SuiteRun  # what `keep` records


def service_facts(store: Store | None) -> dict:
    """What the pages and the stored runs say about the server: versions, platform, the kind of
    store. Never its command line, its store's URL or path, nor anything else that may carry a
    credential."""
    return {
        "refbp": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "database": "none" if store is None else store.kind,
        "service": True,
    }


class Verifier:
    def __init__(self, case_paths=(), database: str | None = None, executor: str | None = None):
        # One connection to the cluster for the process's lifetime, not one per request.
        self.executor = lasting_executor(executor)
        self.suite, bad, _ = load_suite(list(case_paths) or None)
        self.bad_cases = [error for verdict in bad for error in verdict.errors]
        self.store: Store | None = None if store_off(database) else open_store(database)
        if self.store is not None and (problem := write_problem(self.store)) is not None:
            raise StoreError(f"the verdict store cannot be written: {problem}")  # refuse to start
        self.environment = service_facts(self.store)
        # Each server process loads and first runs the references' code before its first request
        # rather than during it, so that its memory starts where it stays.
        warm_up(self.suite)

    def cases(self) -> list[dict]:
        return [
            {
                "id": case.id,
                "title": case.title,
                "network": case.network.describe(),
                "loss": case.loss,
                "dtype": case.dtype,
                "tags": list(case.tags),
            }
            for case in sorted(self.suite.values(), key=lambda c: c.id)
        ]

    def explicit_case(self, case_id: str) -> dict | None:
        case = self.suite.get(case_id)
        return None if case is None else explicit_document(case)

    def verify(self, document, conventions: str = "any") -> Judged:
        """The verdicts of a parsed body, judged under `conventions` (any | torch); CaseError when
        it is not of the formats (the field named)."""
        start = time.perf_counter()
        results = results_in(document, BODY)
        run = SuiteRun(
            started=datetime.now(timezone.utc).isoformat(timespec="seconds"), oracles=ORACLES, searched=(BODY,)
        )
        run.verdicts = judge_results(results, self.suite, executor=self.executor, conventions=conventions)
        run.implementation = ", ".join(sorted({v.implementation for v in run.verdicts if v.implementation}))
        run.seconds = time.perf_counter() - start
        return Judged(run.verdicts, document.get("format") != "refbp-results/1", run)

    def keep(self, judged: Judged, key: str = "", digest: str = "", answer: str = "") -> str | None:
        """Record the judged run (with the answer given under an idempotency key): its id, or None
        when the store is off. refbp.store.KeyTaken when the key's first request recorded first."""
        if self.store is None:
            return None
        record = RunRecord(
            "verify", environment=self.environment, idempotency_key=key, request_digest=digest, answer=answer
        )
        return record_run(self.store, judged.run, record)


__all__ = ["CaseError", "Judged", "Verifier"]
