"""The OpenAPI document matches what the service answers: schemathesis draws requests for every
operation from /openapi.json and checks each answer (no 5xx, a documented status, a documented
content type and body shape: a verdict, or an error as `{"detail": "<one line>"}`). A smoke run of
a few examples per operation, on the app in process with its own store (a longer run:
REFBP_SCHEMATHESIS_EXAMPLES=300, docs/service.md)."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings

from refbp.cases import SUITE_DIR
from refbp.service.app import create_app, openapi
from refbp.service.settings import Settings

schemathesis = pytest.importorskip("schemathesis")
positive_data_acceptance = pytest.importorskip("schemathesis.checks").positive_data_acceptance

# Per operation: a smoke run; REFBP_SCHEMATHESIS_EXAMPLES=1000 for a long one (docs/service.md).
EXAMPLES = int(os.environ.get("REFBP_SCHEMATHESIS_EXAMPLES", "15"))


def test_every_answer_of_every_operation_is_documented(tmp_path):
    url = f"sqlite:///{tmp_path / 'verdicts.sqlite'}"
    app = create_app(Settings(case_paths=(str(SUITE_DIR / "seed"),), database=url))
    operations = [result.ok() for result in schemathesis.openapi.from_asgi("/openapi.json", app).get_all_operations()]
    assert len(operations) == 9  # healthz, readyz, cases, a case, a schema, runs, a run, compare, verify
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def answers_as_documented(case):
            # Not positive_data_acceptance: a result valid by the schema may still name an unknown
            # case or pass a limit (422, documented); no schema can say which case ids exist.
            case.call_and_validate(excluded_checks=[positive_data_acceptance])

        answers_as_documented()


def test_read_routes_document_their_404_and_every_422_is_one_line(tmp_path):
    app = create_app(Settings(case_paths=(str(SUITE_DIR / "seed"),), database=f"sqlite:///{tmp_path / 's.sqlite'}"))
    document = openapi(app)
    for path in ("/v1/cases/{case_id}", "/v1/schemas/{name}", "/v1/runs/{run_id}", "/v1/compare"):
        assert "404" in document["paths"][path]["get"]["responses"], path
    problems = [
        operation["responses"]["422"]
        for methods in document["paths"].values()
        for operation in methods.values()
        if "422" in operation["responses"]
    ]
    assert problems and all(
        p["content"]["application/json"]["schema"]["properties"]["detail"]["type"] == "string" for p in problems
    )
    assert "HTTPValidationError" not in document["components"]["schemas"]
