"""Small readers over a synthesized CloudFormation template (a plain dict)."""

from __future__ import annotations

import json
from typing import Any

Resources = dict[str, dict[str, Any]]


def of_type(resources: Resources, cfn_type: str) -> Resources:
    """The resources of one CloudFormation type, by logical id."""
    return {k: v for k, v in resources.items() if v["Type"] == cfn_type}


def only(resources: Resources, cfn_type: str) -> tuple[str, dict[str, Any]]:
    """The single resource of ``cfn_type`` (fails if there is not exactly one)."""
    found = of_type(resources, cfn_type)
    assert len(found) == 1, f"expected one {cfn_type}, found {sorted(found)}"
    return next(iter(found.items()))


def props(resource: dict[str, Any]) -> dict[str, Any]:
    properties: dict[str, Any] = resource.get("Properties", {})
    return properties


def get_att_arn(logical_id: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


def flat(value: Any) -> str:
    """A CloudFormation value as one string (joins flattened, refs as <Id>)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if "Fn::Join" in value:
            sep, parts = value["Fn::Join"]
            return str(sep).join(flat(p) for p in parts)
        if "Ref" in value:
            return f"<{value['Ref']}>"
        if "Fn::GetAtt" in value:
            return f"<{value['Fn::GetAtt'][0]}.{value['Fn::GetAtt'][1]}>"
    return json.dumps(value, sort_keys=True)


def statements(policy_document: dict[str, Any]) -> list[dict[str, Any]]:
    found = policy_document.get("Statement", [])
    return list(found) if isinstance(found, list) else [found]


def as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]
