"""Detector instances in the DynamoDB ``DetectorState`` table, with optimistic concurrency.

Two Kinesis shards, or a shard and a timer callback, can evaluate the same
instance at the same time. ``put`` is therefore a conditional PutItem: a new
instance only if none exists (``attribute_not_exists``), an existing one only if
its ``version`` is still the one that was read. The loser gets
``VersionConflictError`` and the engine re-reads and re-evaluates, so no
evaluation is lost and no two commit on top of the same state.

Item layout (PK ``detector_key`` = ``{detectorModelName}#{keyValue}``):

- ``instance`` (S): the instance as JSON (``DetectorInstance.to_json``), the only
  attribute read back. JSON keeps IoT Events' distinction between Integer and
  Decimal values (``30`` vs ``30.0``) that DynamoDB numbers would erase;
- ``version`` (N): the optimistic-concurrency counter;
- ``state``, ``variables`` (M), ``timers`` (M of ISO due times), ``detector_model``,
  ``key_value``, ``updated_at``: the contract's readable projection, for the console
  and for support, written on every put and never trusted on read.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError

from wardlink.detectors.aws.retry import error_code
from wardlink.detectors.instance import DetectorInstance
from wardlink.detectors.store import StoredInstance, VersionConflictError, detector_key
from wardlink.detectors.timeutil import format_iso_ms

_serializer = TypeSerializer()


class DynamoDBStateStore:
    """``StateStore`` over a DynamoDB table (a low-level boto3 ``dynamodb`` client)."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._ddb = client
        self._table = table_name

    def get(self, model_name: str, key: str | None) -> StoredInstance | None:
        response = self._ddb.get_item(
            TableName=self._table,
            Key={"detector_key": {"S": detector_key(model_name, key)}},
            ConsistentRead=True,
            ProjectionExpression="#instance, #version",
            ExpressionAttributeNames={"#instance": "instance", "#version": "version"},
        )
        item = response.get("Item")
        if not item:
            return None
        instance = DetectorInstance.from_json(json.loads(item["instance"]["S"]))
        return StoredInstance(instance, int(item["version"]["N"]))

    def put(
        self,
        model_name: str,
        key: str | None,
        instance: DetectorInstance,
        expected_version: int | None,
    ) -> int:
        new_version = 1 if expected_version is None else expected_version + 1
        item = _item(model_name, key, instance, new_version)
        request: dict[str, Any] = {"TableName": self._table, "Item": item}
        if expected_version is None:
            request["ConditionExpression"] = "attribute_not_exists(detector_key)"
        else:
            request["ConditionExpression"] = "#version = :expected"
            request["ExpressionAttributeNames"] = {"#version": "version"}
            request["ExpressionAttributeValues"] = {":expected": {"N": str(expected_version)}}
        try:
            self._ddb.put_item(**request)
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                raise VersionConflictError(
                    f"{detector_key(model_name, key)}: version {expected_version} is stale"
                ) from exc
            raise
        return new_version


def _item(
    model_name: str, key: str | None, instance: DetectorInstance, version: int
) -> dict[str, Any]:
    document = instance.to_json()
    item: dict[str, Any] = {
        "detector_key": {"S": detector_key(model_name, key)},
        "detector_model": {"S": model_name},
        "version": {"N": str(version)},
        "instance": {"S": json.dumps(document, separators=(",", ":"), sort_keys=True)},
        "state": {"S": instance.state_name},
        "variables": {"M": _readable_map(instance.variables)},
        "timers": {"M": {name: {"S": due} for name, due in document["timers"].items()}},
        "updated_at": {"S": format_iso_ms(instance.updated_ms)},
    }
    if key is not None:
        item["key_value"] = {"S": key}
    return item


def _readable_map(values: dict[str, Any]) -> dict[str, Any]:
    """Variables as a DynamoDB map for people; floats become numbers, oddities strings."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, float):
            value = Decimal(repr(value)) if math.isfinite(value) else repr(value)
        elif not isinstance(value, bool | int | str):
            value = json.dumps(value, default=str)
        out[name] = _serializer.serialize(value)
    return out
