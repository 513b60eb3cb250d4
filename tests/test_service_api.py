"""The verification service's HTTP API, on a real `refbp serve` process driven by httpx:
verdicts, the store, the limits (413, 422, 400, 503), the token, and health after abuse."""

from __future__ import annotations

import asyncio
import copy
import json

import httpx
import pytest

from refbp.bench.service import result_document
from service_server import AUTH, service_process

# One thread and a short queue, so that a burst overflows it: the 503s are part of the test.
ARGUMENTS = ("--threads", "1", "--queue", "4", "--max-body-mb", "3")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with (
        service_process(tmp_path_factory.mktemp("service"), *ARGUMENTS) as (base, _process),
        httpx.Client(base_url=base, timeout=60) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def correct():
    return result_document("seed-2-2-2")


def transposed(document):
    wrong = copy.deepcopy(document)
    weight = wrong["grads"]["layers.0.weight"]
    wrong["grads"]["layers.0.weight"] = [list(row) for row in zip(*weight)]
    return wrong


def post(server, document, headers=AUTH):
    body = document if isinstance(document, (bytes, str)) else json.dumps(document, separators=(",", ":"))
    return server.post("/v1/verify", content=body, headers={"content-type": "application/json", **headers})


def test_health_cases_and_schemas(server):
    assert server.get("/healthz").json()["status"] == "ok"
    cases = {c["id"]: c for c in server.get("/v1/cases").json()}
    assert "seed-2-2-2" in cases and cases["seed-2-2-2"]["network"]
    seed = server.get("/v1/cases/seed-2-2-2").json()
    assert seed["format"] == "refbp-case/1" and isinstance(seed["params"]["layers.0.weight"], list)
    assert server.get("/v1/cases/no-such-case").status_code == 404
    assert server.get("/v1/schemas/result").json()["title"] == "refbp-result/1"
    assert server.get("/v1/schemas/pickle").status_code == 404


def test_a_correct_result_passes_and_is_recorded(server, correct):
    answer = post(server, correct)
    assert answer.status_code == 200, answer.text
    verdict = answer.json()
    assert verdict["format"] == "refbp-verdict/1" and verdict["passed"] is True and verdict["checks"]
    run_id = answer.headers["X-Refbp-Run"]
    stored = server.get(f"/v1/runs/{run_id}").json()
    assert stored["run"]["command"] == "verify" and stored["run"]["passed"] is True
    assert {row["case_id"] for row in stored["rows"]} == {"seed-2-2-2"}
    assert run_id in [run["id"] for run in server.get("/v1/runs").json()]


def test_a_transposed_gradient_is_a_failed_check_naming_the_tensor(server, correct):
    answer = post(server, transposed(correct))
    assert answer.status_code == 200
    verdict = answer.json()
    assert verdict["passed"] is False
    failed = {(c["quantity"], c["tensor"]) for c in verdict["checks"] if not c["passed"]}
    assert failed == {("grads", "layers.0.weight")}


def test_a_bundle_gets_a_list_and_compare_puts_runs_side_by_side(server, correct):
    bundle = {
        "format": "refbp-results/1",
        "implementation": "bundled",
        "results": [{k: v for k, v in transposed(correct).items() if k != "format"}],
    }
    answer = post(server, bundle)
    assert answer.status_code == 200 and [v["passed"] for v in answer.json()] == [False]
    good = post(server, correct).headers["X-Refbp-Run"]
    rows = server.get("/v1/compare", params={"runs": f"{good},{answer.headers['X-Refbp-Run']}"}).json()
    assert [row["case"] for row in rows] == ["seed-2-2-2"]
    statuses = sorted(v for k, v in rows[0].items() if k.endswith(": status"))
    assert statuses == ["FAIL", "pass"]
    assert server.get("/v1/compare", params={"runs": "nosuchrun"}).status_code == 404


def test_malformed_json_is_400_naming_the_line(server):
    answer = post(server, '{"format": "refbp-result/1",\n "case": seed}')
    assert answer.status_code == 400
    assert "line 2" in answer.json()["detail"]
    assert post(server, b"\x80\x03}q\x00.").status_code == 400  # a pickle is not JSON, and never unpickled


def test_a_60_mb_body_is_413(server):
    answer = post(server, b" " * (60 << 20))
    assert answer.status_code == 413 and "limit" in answer.json()["detail"]


@pytest.mark.parametrize(
    "change, field",
    [
        (lambda d: {"format": "refbp-results/1", "results": [dict(d, format=None) for _ in range(300)]}, "results"),
        (lambda d: dict(d, grads={f"p{i}": [0.0] for i in range(100)}), "grads"),
        (lambda d: dict(d, outputs=[0] * 1_000_001), "outputs"),
        (lambda d: dict(d, case="no-such-case"), "case"),
        (lambda d: dict(d, loss="zero"), "loss"),
        (lambda d: dict(d, surprise=1), "surprise"),
    ],
)
def test_sizes_and_fields_out_of_bounds_are_422_naming_the_field(server, correct, change, field):
    answer = post(server, change(correct))
    assert answer.status_code == 422, answer.text
    assert field in answer.json()["detail"]


def test_writes_need_the_token_and_reads_do_not(server, correct):
    assert post(server, correct, headers={}).status_code == 401
    assert post(server, correct, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert server.get("/v1/runs", headers={}).status_code == 200


def test_no_cors_header_unless_configured(server):
    answer = server.get("/v1/cases", headers={"Origin": "http://elsewhere.example"})
    assert "access-control-allow-origin" not in answer.headers


def test_the_openapi_bodies_are_the_formats_schemas(server):
    document = server.get("/openapi.json").json()
    components = document["components"]["schemas"]
    assert components["refbp-result-1"]["$ref"] == "#/components/schemas/refbp-result-1.result"
    verify = document["paths"]["/v1/verify"]["post"]
    refs = json.dumps(verify)
    assert "#/components/schemas/refbp-result-1" in refs and "#/components/schemas/refbp-verdict-1" in refs

    def references(node):
        if isinstance(node, dict):
            yield from (v for k, v in node.items() if k == "$ref")
            for value in node.values():
                yield from references(value)
        elif isinstance(node, list):
            for item in node:
                yield from references(item)

    missing = {r for r in references(document) if r.removeprefix("#/components/schemas/") not in components}
    assert not missing
    assert server.get("/docs").status_code == 200


def burst(base, body: str, requests: int = 200) -> list:
    """`requests` POSTs of `body` at once, each on its own connection."""

    async def all_at_once():
        limits = httpx.Limits(max_connections=requests)
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as client:
            headers = {"content-type": "application/json", **AUTH}
            return await asyncio.gather(
                *(client.post("/v1/verify", content=body, headers=headers) for _ in range(requests))
            )

    return asyncio.run(all_at_once())


def test_a_burst_beyond_the_queue_gets_503s_and_the_server_stays_healthy(server, correct):
    answers = burst(str(server.base_url), json.dumps(correct))
    statuses = [a.status_code for a in answers]
    assert len(statuses) == 200 and set(statuses) <= {200, 503}
    assert 200 in statuses and 503 in statuses  # one thread and a queue of 4 cannot take 200 at once
    assert all(a.headers["Retry-After"] for a in answers if a.status_code == 503)
    assert all(a.json()["passed"] for a in answers if a.status_code == 200)
    assert server.get("/healthz").json()["status"] == "ok"
    assert post(server, correct).status_code == 200


def test_with_the_default_settings_a_burst_of_200_is_all_answered(tmp_path, correct):
    """The issue's case: `refbp serve` as a user starts it (one process, the default queue)."""
    with service_process(tmp_path) as (base, _process):
        answers = burst(base, json.dumps(correct))
        statuses = [a.status_code for a in answers]
        assert statuses == [200] * 200, sorted(set(statuses))
        assert all(a.json()["format"] == "refbp-verdict/1" and a.json()["passed"] for a in answers)
        health = httpx.get(f"{base}/healthz", timeout=30)
        assert health.status_code == 200 and health.json()["status"] == "ok"
