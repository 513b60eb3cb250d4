"""The JSON Schemas (draft 2020-12) of the formats, and validation with one-line messages.

The schema files ship with the package (`cases/schemas/`). They check the structure of a
document: fields, types, names, ranges. The rules across fields (shapes from the network,
class ranges, the id equal to the file name, ...) are code (`refbp.cases.load`, `refbp.check.results`).
A schema error becomes a `CaseError`: `file: field: problem`, the field written as in the
spec (`network.sizes[1]`, `params.layers.0.weight[0][1]`).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import jsonschema_rs

from .jsonio import CaseError, kind_of, show

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
# `refbp schema NAME` -> the format it describes.
SCHEMAS = {
    "case": "refbp-case/1",
    "result": "refbp-result/1",
    "results": "refbp-results/1",
    "verdict": "refbp-verdict/1",
    "pipe": "refbp-pipe/1",  # the lines of `check --cmd` (refbp.pipe)
    "layer-case": "refbp-layer-case/1",  # one layer's function, inputs and expected values (refbp.cases.layer_case)
    "layer-result": "refbp-layer-result/1",  # an implementation's answer to a layer case (refbp.layer.results)
}
_TYPE_WORDS = {
    "integer": "a whole number",
    "number": "a number",
    "string": "a string",
    "boolean": "true or false",
    "object": "an object",
    "array": "a list",
    "null": "null",
}


def schema_file(name: str) -> Path:
    """`cases/schemas/refbp-case-1.schema.json` for "case"."""
    return SCHEMA_DIR / (SCHEMAS[name].replace("/", "-") + ".schema.json")


@cache
def _raw(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(schema_file(name).read_text())
    return document


def schema_document(name: str) -> dict[str, Any]:
    """The schema NAME as one self-contained document (a schema it refers to is embedded by its $id)."""
    if name not in SCHEMAS:
        raise KeyError(f"unknown schema {name!r} (known: {', '.join(SCHEMAS)})")
    document = copy.deepcopy(_raw(name))
    if name == "results":
        document["$defs"] = {"refbp-result-1": copy.deepcopy(_raw("result"))}
    return document


def _items(validator: Any, items: Any, instance: Any, schema: Any) -> Iterator[Any]:
    """`items`, with a shortcut for the innermost list of a tensor: when the items' schema
    takes numbers (and nulls) and every entry is one, nothing can fail, so the entries are
    not validated one by one (the same verdict, about 30 times faster on large tensors)."""
    if isinstance(instance, list) and isinstance(items, dict) and "else" in items:
        accepted = items["else"].get("type")
        plain = {int, float} | ({type(None)} if accepted == ["number", "null"] else set())
        if accepted in ("number", ["number", "null"]) and all(type(x) in plain for x in instance):
            return
    yield from _ITEMS(validator, items, instance, schema)


_ITEMS = jsonschema.Draft202012Validator.VALIDATORS["items"]
_Validator = jsonschema.validators.extend(jsonschema.Draft202012Validator, {"items": _items})  # type: ignore[no-untyped-call]


@cache
def _validator(name: str) -> Any:
    return _Validator(schema_document(name))


@cache
def _fast_validator(name: str) -> jsonschema_rs.Draft202012Validator:
    return jsonschema_rs.Draft202012Validator(schema_document(name))


def validate(document: Any, name: str, path: str | Path | None = None, where: str = "") -> None:
    """Raise a CaseError for the most relevant schema error of `document`, if any.

    `where` prefixes the field (`results[2].` inside a bundle). jsonschema-rs (compiled) says
    whether the document is valid; only an invalid one is walked again by jsonschema, whose
    errors `best_match` ranks into the one-line message (tests/test_schemas.py holds the two
    validators to the same verdicts)."""
    if _fast_validator(name).is_valid(document):
        return
    error = jsonschema.exceptions.best_match(_validator(name).iter_errors(document))
    if error is not None:
        field, problem = describe(error)
        raise CaseError(path, where + field if field else where.rstrip("."), problem)


def field_name(parts: Iterable[Any]) -> str:
    """("network", "sizes", 1) -> "network.sizes[1]"."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def describe(error: jsonschema.ValidationError) -> tuple[str, str]:
    """A schema error as (field, problem) in the words of the spec."""
    parts = list(error.absolute_path)
    # the stubs allow `Unset` for each: a ValidationError from a validator has them all set
    value: Any = error.instance
    schema: Any = error.schema
    rule: Any = error.validator
    validator_value: Any = error.validator_value
    if rule == "required":
        missing = next(key for key in validator_value if key not in value)
        return field_name(parts + [missing]), "is required"
    if rule == "additionalProperties":
        allowed = set(schema.get("properties", {}))
        extra = next(key for key in value if key not in allowed)
        known = f" (allowed: {', '.join(sorted(allowed))})" if allowed else ""
        return field_name(parts + [extra]), f"unknown field{known}"
    field = field_name(parts)
    if rule == "type":
        wanted = validator_value if isinstance(validator_value, list) else [validator_value]
        words = " or ".join(_TYPE_WORDS[t] for t in wanted)
        return field, f"must be {words}, not {kind_of(value)}"
    if rule == "enum":
        what = schema.get("title") or (str(parts[-1]) if parts else "value")
        return field, f"unknown {what} {show(value)} (known: {', '.join(map(str, validator_value))})"
    if rule == "const":
        if parts and parts[-1] == "format":
            return field, f"unknown format {show(value)} (this reader knows {validator_value!r})"
        return field, f"must be {show(validator_value)}, not {show(value)}"
    if rule in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return field, f"{show(value)} is outside {_interval(schema)}"
    if rule == "pattern":
        return field, f"{show(value)} must match {validator_value}"
    if rule == "minItems":
        return field, (
            "must not be empty"
            if validator_value == 1
            else f"must have at least {validator_value} entries, not {len(value)}"
        )
    if rule == "maxItems":
        return field, f"must have at most {validator_value} entries, not {len(value)}"
    if rule == "uniqueItems":
        return field, "names an entry twice"
    if rule in ("minLength", "maxLength"):
        return field, f"must have {'at least' if rule == 'minLength' else 'at most'} {validator_value} characters"
    return field, error.message if len(error.message) < 200 else error.message[:197] + "..."


def _interval(schema: dict[str, Any]) -> str:
    low = schema.get("minimum", schema.get("exclusiveMinimum", "-inf"))
    high = schema.get("maximum", schema.get("exclusiveMaximum", "inf"))
    left = "(" if "exclusiveMinimum" in schema else "["
    right = ")" if "exclusiveMaximum" in schema else "]"
    return f"{left}{low}, {high}{right}"
