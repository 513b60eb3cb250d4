"""What the service judges with and keeps: the suite's cases (loaded once), the verdict store
(opened once), and one POST /v1/verify as one `verify` run in the store.

The judging is refbp.check.verify's (`judge_results`), the parsing refbp.check.results'
(`results_in`), the recording refbp.store's: this module only holds them together.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone

from cases import CaseError
from cases.export import explicit_document

from refbp.check.check_case import ORACLES
from refbp.check.results import results_in
from refbp.check.suite import SuiteRun
from refbp.check.verify import judge_results, load_suite, warm_up
from refbp.parallel import lasting_executor
from refbp.report.environment import environment
from refbp.store import RunRecord, Store, open_store, record_run
from refbp.store.database import store_off

from .body import BODY


@dataclass
class Judged:
    verdicts: list          # CaseVerdict, one per result
    single: bool            # the body was one refbp-result/1 (else a bundle)
    run_id: str | None      # the run's id in the store (None: the store is off)


class Verifier:
    def __init__(self, case_paths=(), database: str | None = None, executor: str | None = None):
        # One connection to the cluster for the process's lifetime, not one per request.
        self.executor = lasting_executor(executor)
        self.suite, bad, _ = load_suite(list(case_paths) or None)
        self.bad_cases = [error for verdict in bad for error in verdict.errors]
        self.store: Store | None = None if store_off(database) else open_store(database)
        self.environment = environment({"service": True})
        # Each server process loads and first runs the references' code before its first request
        # rather than during it, so that its memory starts where it stays.
        warm_up(self.suite)

    def cases(self) -> list[dict]:
        return [{"id": case.id, "title": case.title, "network": case.network.describe(), "loss": case.loss,
                 "dtype": case.dtype, "tags": list(case.tags)}
                for case in sorted(self.suite.values(), key=lambda c: c.id)]

    def explicit_case(self, case_id: str) -> dict | None:
        case = self.suite.get(case_id)
        return None if case is None else explicit_document(case)

    def verify(self, document, conventions: str = "any") -> Judged:
        """The verdicts of a parsed body, judged under `conventions` (any | torch); CaseError when
        it is not of the formats (the field named)."""
        start = time.perf_counter()
        results = results_in(document, BODY)
        run = SuiteRun(started=datetime.now(timezone.utc).isoformat(timespec="seconds"), oracles=ORACLES,
                       searched=(BODY,))
        run.verdicts = judge_results(results, self.suite, executor=self.executor, conventions=conventions)
        run.implementation = ", ".join(sorted({v.implementation for v in run.verdicts if v.implementation}))
        run.seconds = time.perf_counter() - start
        run_id = None
        if self.store is not None:
            run_id = record_run(self.store, run, RunRecord("verify", environment=self.environment))
        return Judged(run.verdicts, document.get("format") != "refbp-results/1", run_id)


__all__ = ["CaseError", "Judged", "Verifier"]
