"""The service's OpenAPI document, whose request and response bodies are the formats' own JSON
Schemas (cases/schemas/), placed under components/schemas with their references rewritten."""

from __future__ import annotations

from typing import Any

from fastapi.openapi.utils import get_openapi

from refbp.cases.schema import SCHEMAS, schema_document

COMPONENT = "#/components/schemas/"


def component_name(name: str) -> str:
    """ "refbp-result-1" for "result"."""
    return SCHEMAS[name].replace("/", "-")


def format_components() -> dict:
    """Every format's schema and each of its $defs as components, references pointing at them."""
    ids = {schema_document(name)["$id"]: component_name(name) for name in SCHEMAS}
    components = {}
    for name in SCHEMAS:
        document = schema_document(name)
        own = component_name(name)
        definitions = document.pop("$defs", {})
        for key in ("$schema", "$id"):
            document.pop(key, None)
        for key, definition in definitions.items():
            if key in ids.values():  # a format embedded whole (the bundle's result): its own component
                continue
            components[f"{own}.{key}"] = _rewrite(definition, own, ids)
        components[own] = _rewrite(document, own, ids)
    return components


def _rewrite(node, own: str, ids: dict):
    if isinstance(node, dict):
        return {
            key: _reference(value, own, ids) if key == "$ref" else _rewrite(value, own, ids)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_rewrite(item, own, ids) for item in node]
    return node


def _reference(target: str, own: str, ids: dict) -> str:
    base, _, pointer = target.partition("#")
    owner = ids.get(base, own) if base else own
    definition = pointer.removeprefix("/$defs/")
    return f"{COMPONENT}{owner}.{definition}" if definition else f"{COMPONENT}{owner}"


def body(name: str, description: str, many: bool = False) -> dict:
    schema: dict[str, Any] = {"$ref": COMPONENT + component_name(name)}
    if many:
        schema = {"type": "array", "items": schema}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def verify_request() -> dict:
    return {
        "requestBody": {
            "required": True,
            "description": "one refbp-result/1 document, or a refbp-results/1 bundle",
            "content": {
                "application/json": {
                    "schema": {
                        "oneOf": [
                            {"$ref": COMPONENT + component_name("result")},
                            {"$ref": COMPONENT + component_name("results")},
                        ]
                    }
                }
            },
        }
    }


def problem(description: str) -> dict:
    return {
        "description": description,
        "content": {
            "application/json": {
                "schema": {"type": "object", "required": ["detail"], "properties": {"detail": {"type": "string"}}}
            }
        },
    }


VERIFY_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "a refbp-verdict/1 document for one result; a JSON list of them for a bundle (a failed "
        'check is still 200, with "passed": false and "state": "fail"; an inconclusive '
        'verdict has "passed": false and "state": "inconclusive")',
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {"$ref": COMPONENT + component_name("verdict")},
                        {"type": "array", "items": {"$ref": COMPONENT + component_name("verdict")}},
                    ]
                }
            }
        },
    },
    400: problem("malformed JSON (the line and column named)"),
    401: problem("REFBP_TOKEN is set and the request has no matching bearer token"),
    413: problem("the body is larger than the limit"),
    422: problem("not of the formats, an unknown case, or a size over a limit (the field named)"),
    503: problem("every worker is busy and the queue is full, or the check ran out of time (see Retry-After)"),
}


def not_found(description: str) -> dict:
    return {
        404: problem(description),
        503: problem("too many reads at once, or a read past its time (see Retry-After)"),
    }


VERIFY_RESPONSES.update(
    {
        408: problem("the body did not arrive within its time"),
        415: problem("the body is not declared as application/json"),
    }
)


def grading_request() -> dict:
    return {
        "requestBody": {
            "required": True,
            "description": "the student's results: one refbp-result/1 document, or a refbp-results/1 bundle",
            "content": {
                "application/json": {
                    "schema": {
                        "oneOf": [
                            {"$ref": COMPONENT + component_name("result")},
                            {"$ref": COMPONENT + component_name("results")},
                        ]
                    }
                }
            },
        }
    }


NUMBER = {"type": "number"}
STRING = {"type": "string"}
GRADED = {
    "type": "object",
    "required": ["submission", "assignment", "student", "title", "score", "max_score", "tests", "shown_later", "notes"],
    "properties": {
        "submission": STRING,
        "assignment": STRING,
        "student": STRING,
        "title": STRING,
        "score": NUMBER,
        "max_score": NUMBER,
        "shown_later": {"type": "integer"},
        "notes": {"type": "array", "items": STRING},
        "tests": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "score", "max_score", "status", "feedback"],
                "properties": {
                    "name": STRING,
                    "score": NUMBER,
                    "max_score": NUMBER,
                    "status": {"enum": ["passed", "failed"]},
                    "feedback": STRING,
                },
            },
        },
    },
}
GRADING_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the grade: the total, each visible test's points and feedback (no expected value unless "
        "the rubric's show_values), how many tests are shown after the due date",
        "content": {"application/json": {"schema": GRADED}},
    },
    400: problem("malformed JSON (the line and column named)"),
    401: problem("no student token of this assignment"),
    403: problem("a student token of another assignment"),
    404: problem("no such assignment"),
    408: problem("the body did not arrive within its time"),
    413: problem("the body is larger than the limit"),
    415: problem("the body is not declared as application/json"),
    422: problem("not of the formats, a case not of the assignment, or a size over a limit (the field named)"),
    429: problem("more submissions in a minute than the server allows per token (see Retry-After)"),
    503: problem("every worker is busy, the check ran out of time, or the store cannot be written (see Retry-After)"),
}
TABLE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "every submission, newest first: {assignment, submissions: [rows], next} as JSON, or CSV "
        "(one row per submission: submission, submitted, student, score, max_score, percent, "
        "tests_passed, implementation, then each test's points)",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["assignment", "submissions", "next"],
                    "properties": {
                        "assignment": STRING,
                        "submissions": {"type": "array", "items": {"type": "object"}},
                        "next": {"type": ["string", "null"]},
                    },
                }
            },
            "text/csv": {"schema": STRING},
        },
    },
    401: problem("no read token (the teacher's: REFBP_READ_TOKEN or REFBP_TOKEN)"),
    **not_found("no such assignment"),
}


def one_line_errors(document: dict) -> dict:
    """Every 422 of the document as the service answers it: `{"detail": "<one line>"}`, not
    FastAPI's list of validation errors (the service's handler makes them one line)."""
    for methods in document.get("paths", {}).values():
        for operation in methods.values():
            responses = operation.get("responses", {})
            if "422" in responses or 422 in responses:
                responses.pop(422, None)
                responses["422"] = problem("a parameter or the body is not valid (the field named)")
    schemas = document.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    return document


def openapi_document(app) -> dict:
    """FastAPI's document of `app`, with the formats' schemas as its components and its errors as
    answered (made once per app)."""
    if app.openapi_schema is None:
        document = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        document.setdefault("components", {}).setdefault("schemas", {}).update(format_components())
        app.openapi_schema = one_line_errors(document)
    return app.openapi_schema
