"""API Gateway request models, derived from the handlers' own pydantic models.

``wardlink.contract.models`` is the single source of truth for the API's JSON
(the handlers validate with it, ``cloud/openapi.yaml`` mirrors it). API Gateway
validates bodies with JSON Schema draft 4 and cannot follow ``$ref`` into
``$defs``, so this module inlines references and keeps only draft-4 keywords; a
keyword it does not know is an error, never silently dropped (dropping one would
loosen validation without anyone noticing).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

DRAFT4 = "http://json-schema.org/draft-04/schema#"

# Keywords kept as they are (their values are not schemas).
_PLAIN = {
    "type", "title", "enum", "pattern", "minLength", "maxLength", "minimum", "maximum",
    "exclusiveMinimum", "exclusiveMaximum", "minItems", "maxItems", "uniqueItems",
    "required", "default", "format", "multipleOf", "minProperties", "maxProperties",
}
# Keywords whose value is a schema, a list of schemas, or a map of schemas.
_SCHEMA = {"items", "not"}
_SCHEMA_LIST = {"anyOf", "allOf", "oneOf"}
_SCHEMA_MAP = {"properties", "patternProperties"}
_EXCLUSIVE_BOUNDS = {"exclusiveMinimum": "minimum", "exclusiveMaximum": "maximum"}
# Dropped: documentation only, no effect on validation.
_DOC_ONLY = {"description", "examples", "deprecated"}


class UnsupportedSchemaError(ValueError):
    """The pydantic schema uses something API Gateway's draft-4 validator lacks."""


def request_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The draft-4 schema API Gateway should validate ``model`` request bodies with."""
    raw = model.model_json_schema()
    definitions: Mapping[str, Any] = raw.get("$defs", {})
    converted = _convert(raw, definitions, seen=())
    converted["$schema"] = DRAFT4
    return converted


def _convert(node: Mapping[str, Any], defs: Mapping[str, Any],
             seen: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "$ref" in node:
        name = _ref_name(node["$ref"])
        if name in seen:
            raise UnsupportedSchemaError(f"recursive schema through {name} cannot be inlined")
        if name not in defs:
            raise UnsupportedSchemaError(f"unresolvable reference {node['$ref']}")
        out.update(_convert(defs[name], defs, (*seen, name)))
    for key, value in node.items():
        if key in {"$ref", "$defs"} or key in _DOC_ONLY:
            continue
        if key in _EXCLUSIVE_BOUNDS and not isinstance(value, bool):
            # Draft 6+ spells an exclusive bound as a number; draft 4 as a flag.
            out[_EXCLUSIVE_BOUNDS[key]] = value
            out[key] = True
        elif key in _PLAIN:
            out[key] = value
        elif key in _SCHEMA:
            out[key] = _convert(value, defs, seen)
        elif key in _SCHEMA_LIST:
            out[key] = [_convert(item, defs, seen) for item in value]
        elif key in _SCHEMA_MAP:
            out[key] = {name: _convert(sub, defs, seen) for name, sub in value.items()}
        elif key == "additionalProperties":
            out[key] = value if isinstance(value, bool) else _convert(value, defs, seen)
        else:
            raise UnsupportedSchemaError(f"JSON Schema keyword {key!r} is not supported")
    return out


def _ref_name(ref: str) -> str:
    prefix = "#/$defs/"
    if not ref.startswith(prefix):
        raise UnsupportedSchemaError(f"only local $defs references are supported, got {ref}")
    return ref[len(prefix):]
