"""Conversions between plain Python values and DynamoDB's typed JSON, plus page tokens.

We use the low-level client (not the resource API) so the wire format stays
visible; these helpers keep that from leaking into the repositories.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from wardlink.cloudapi.errors import BadRequest

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def to_item(values: Mapping[str, Any]) -> dict[str, Any]:
    """Plain dict -> DynamoDB item; ``None`` values are dropped (absent, not NULL)."""
    return {k: _serializer.serialize(v) for k, v in values.items() if v is not None}


def to_attr(value: Any) -> dict[str, Any]:
    return dict(_serializer.serialize(value))


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """DynamoDB item -> plain dict, with whole-number Decimals back to ``int``."""
    return {k: _plain(_deserializer.deserialize(v)) for k, v in item.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, set):
        return sorted(_plain(v) for v in value)
    return value


def now_iso() -> str:
    """UTC timestamp with microseconds: sortable as a string, which GSI keys rely on."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def encode_token(last_evaluated_key: Mapping[str, Any] | None) -> str | None:
    """An opaque page token from DynamoDB's ``LastEvaluatedKey``."""
    if not last_evaluated_key:
        return None
    raw = json.dumps(last_evaluated_key, sort_keys=True, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str | None, allowed_keys: set[str]) -> dict[str, Any] | None:
    """Parse a page token; anything that is not one we issued is a 400."""
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        key = json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise BadRequest("next_token is not a token this API issued") from exc
    if (
        not isinstance(key, dict)
        or not key
        or not set(key) <= allowed_keys
        or not all(
            isinstance(v, dict) and set(v) == {"S"} and isinstance(v["S"], str)
            for v in key.values()
        )
    ):
        raise BadRequest("next_token is not a token this API issued")
    return key
