"""The service's reads as the verdict store grows: a SQLite store filled with N runs (written in
bulk, as `refbp serve` would have stored them: one case of a few checks per run), a real
`refbp serve` on it, and the time of each read: compare of 12 runs (API and page), the runs
list (first page and a page deep in it), one run, the run page, plus verify. Run as

    python -m refbp.bench.service_store --runs 1000 10000 100000

It prints one row per store size (median milliseconds of --repeats tries); flat rows across
sizes are the proof that a read costs no more as the store grows (docs/service.md).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pandas as pd
import sqlalchemy as sa

CHECKS = (
    ("grads", "layers.0.weight", "torch-autograd"),
    ("grads", "layers.0.weight", "finite-difference"),
    ("grads", "layers.0.bias", "torch-autograd"),
    ("loss", "loss", "torch-autograd"),
)
BATCH = 5000
FIRST = datetime(2026, 1, 1, tzinfo=timezone.utc)


def fill_store(store, runs: int, implementation: str = "filler") -> list[str]:
    """Add `runs` runs to `store` in bulk (one case, len(CHECKS) check rows each), each started a
    second after the last; their ids."""
    ids, rng = [], random.Random(runs)
    with store.engine.begin() as connection:
        verdict_id = connection.execute(sa.select(sa.func.coalesce(sa.func.max(store.case_verdicts.c.id), 0))).scalar()
        first = connection.execute(sa.select(sa.func.count()).select_from(store.runs)).scalar()
    for start in range(first, first + runs, BATCH):
        run_rows, verdict_rows, check_rows = [], [], []
        for i in range(start, min(first + runs, start + BATCH)):
            run_id, verdict_id, passed = uuid.uuid4().hex, verdict_id + 1, rng.random() > 0.1
            ids.append(run_id)
            started = (FIRST + timedelta(seconds=i)).isoformat(timespec="seconds")
            run_rows.append(
                dict(
                    id=run_id,
                    command="verify",
                    started=started,
                    seconds=0.01,
                    implementation=f"{implementation}-{i % 7}",
                    implementation_version="",
                    refbp_version="x",
                    passed=passed,
                    exit_code=0 if passed else 1,
                    cases=1,
                    failed_cases=int(not passed),
                    inconclusive_cases=0,
                    environment={},
                )
            )
            verdict_rows.append(
                dict(
                    id=verdict_id,
                    run_id=run_id,
                    case_id="seed-2-2-2",
                    case_hash="0" * 64,
                    implementation=f"{implementation}-{i % 7}",
                    passed=passed,
                    state="pass" if passed else "fail",
                    inconclusive=0,
                    error_kind="",
                    errors=[],
                    not_provided=[],
                    path="request body",
                    network="mlp",
                    dtype="float64",
                    seconds=0.01,
                )
            )
            for quantity, tensor, reference in CHECKS:
                error = rng.random() * (1e-3 if not passed else 1e-12)
                check_rows.append(
                    dict(
                        case_verdict_id=verdict_id,
                        quantity=quantity,
                        tensor=tensor,
                        reference=reference,
                        method="",
                        passed=passed,
                        state="pass" if passed else "fail",
                        inconclusive=0,
                        max_abs_err=error,
                        max_rel_err=error,
                        worst_index=[0, 0],
                        atol=1e-9,
                        rtol=1e-7,
                        checked=4,
                        note="",
                        nondifferentiable=0,
                    )
                )
        with store.engine.begin() as connection:
            connection.execute(store.runs.insert(), run_rows)
            connection.execute(store.case_verdicts.insert(), verdict_rows)
            connection.execute(store.checks.insert(), check_rows)
    return ids


def _median_ms(client: httpx.Client, path: str, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        answer = client.get(path)
        times.append(1e3 * (time.perf_counter() - start))
        if answer.status_code != 200:
            raise RuntimeError(f"GET {path[:80]}: {answer.status_code} {answer.text[:200]}")
    return statistics.median(times)


def measure(sizes, repeats: int = 5) -> pd.DataFrame:
    from refbp.bench.service import result_document
    from refbp.serving import serving
    from refbp.store import open_store

    rows, body = [], json.dumps(result_document("seed-2-2-2"))
    with tempfile.TemporaryDirectory(prefix="refbp-bench-store-") as folder:
        url = f"sqlite:///{Path(folder) / 'verdicts.sqlite'}"
        store, ids = open_store(url), list[str]()
        for size in sorted(sizes):
            start = time.perf_counter()
            ids += fill_store(store, size - len(ids))
            filled = time.perf_counter() - start
            sample = random.Random(size).sample(ids, 12)
            with (
                serving(["--cases", "cases/seed"], {"REFBP_DATABASE_URL": url}, log=Path(folder) / "serve.log") as (
                    base,
                    _process,
                ),
                httpx.Client(base_url=base, timeout=120) as client,
            ):
                _median_ms(client, "/v1/runs", 2)  # the first request of a process warms its caches
                verify = []
                for _ in range(repeats):
                    begin = time.perf_counter()
                    client.post("/v1/verify", content=body, headers={"content-type": "application/json"})
                    verify.append(1e3 * (time.perf_counter() - begin))
                deep = ids[len(ids) // 2]
                rows.append(
                    {
                        "runs_in_store": len(ids),
                        "fill_s": round(filled, 1),
                        "compare_12_ms": _median_ms(client, "/v1/compare?runs=" + ",".join(sample), repeats),
                        "compare_12_prefixes_ms": _median_ms(
                            client, "/v1/compare?runs=" + ",".join(r[:8] for r in sample), repeats
                        ),
                        "compare_page_12_ms": _median_ms(client, "/compare?runs=" + ",".join(sample), repeats),
                        "runs_first_page_ms": _median_ms(client, "/v1/runs?limit=50", repeats),
                        "runs_deep_page_ms": _median_ms(client, f"/v1/runs?limit=50&before={deep}", repeats),
                        "one_run_ms": _median_ms(client, f"/v1/runs/{sample[0]}", repeats),
                        "run_page_ms": _median_ms(client, f"/runs/{sample[0]}", repeats),
                        "index_page_ms": _median_ms(client, "/", repeats),
                        "verify_ms": statistics.median(verify),
                    }
                )
        store.engine.dispose()
    return pd.DataFrame(rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, nargs="+", default=[1000, 10_000, 100_000], metavar="N")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    frame = measure(args.runs, args.repeats)
    print(frame.round(1).to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
