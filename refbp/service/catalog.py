"""What results are judged against: the cases (a list, and one case in its explicit form) and
the formats' JSON Schemas. In memory, no store; plain functions, which FastAPI runs off the event
loop (writing out a large case takes a while)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException

from refbp.cases.schema import SCHEMAS, schema_document

from .deps import read_access, verifier_of
from .openapi import not_found
from .verifier import Verifier

router = APIRouter()


def shown(text: str, length: int = 80) -> str:
    """A name from a request as an error may quote it: cut, in ASCII (a lone surrogate escaped)."""
    return repr(text[:length].encode("ascii", "backslashreplace").decode("ascii"))


@router.get(
    "/v1/cases",
    summary="the cases results are judged against: id, title, network, loss, dtype, tags",
    dependencies=[Depends(read_access)],
)
def cases(verifier: Verifier = Depends(verifier_of)):
    return verifier.cases()


@router.get(
    "/v1/cases/{case_id}",
    summary="one case in its explicit form (every number written out)",
    responses={
        200: {
            "description": "a refbp-case/1 document",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/refbp-case-1"}}},
        },
        **not_found("no such case"),
    },
    dependencies=[Depends(read_access)],
)
def case(case_id: str, verifier: Verifier = Depends(verifier_of)):
    document = verifier.explicit_case(case_id)
    if document is None:
        raise HTTPException(404, f"no case {shown(case_id)} (GET /v1/cases lists them)")
    return document


@router.get(
    "/v1/schemas/{name}",
    summary="the JSON Schema of a format: case, result, results or verdict",
    responses=not_found("no such schema"),
)
def schema(name: str):
    if name not in SCHEMAS:
        raise HTTPException(404, f"no schema {shown(name, 40)} (known: {', '.join(SCHEMAS)})")
    return schema_document(name)
