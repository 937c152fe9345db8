"""The Gateways table: the gateway is recorded whenever it registers a device.

There is no separate gateway registration call: a gateway is known to the cloud
from its first device registration, with ``thing_name`` = ``gateway_id`` (the
Greengrass thing name, per the contract).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wardlink.cloudapi.repositories.items import from_item, to_attr


class GatewayRepository:
    def __init__(self, client: Any, table_name: str) -> None:
        self._ddb = client
        self._table = table_name

    def touch(self, gateway_id: str, now: str, site_id: str | None = None) -> None:
        """Mark the gateway online and seen now; set its site if the caller knows it."""
        sets = ["thing_name = :thing", "#status = :online", "last_seen = :now"]
        values: dict[str, Any] = {
            ":thing": to_attr(gateway_id),
            ":online": to_attr("online"),
            ":now": to_attr(now),
        }
        if site_id:
            sets.append("site_id = :site")
            values[":site"] = to_attr(site_id)
        self._ddb.update_item(
            TableName=self._table,
            Key={"gateway_id": to_attr(gateway_id)},
            UpdateExpression="SET " + ", ".join(sets),
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=values,
        )

    def advance_seq(self, gateway_id: str, seq: int) -> bool:
        """Raise the gateway's ``last_seq`` to ``seq``; never lower it. True if it moved.

        A conditional update, so concurrent writers (Kinesis shards, re-deliveries)
        can only move it forward, and a re-delivered old batch is a no-op.
        """
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key={"gateway_id": to_attr(gateway_id)},
                UpdateExpression="SET last_seq = :seq",
                ConditionExpression="attribute_not_exists(last_seq) OR last_seq < :seq",
                ExpressionAttributeValues={":seq": to_attr(seq)},
            )
        except self._ddb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def advance_seqs(self, highest: Mapping[str, int]) -> None:
        """``advance_seq`` for each gateway of a stored batch."""
        for gateway_id, seq in highest.items():
            self.advance_seq(gateway_id, seq)

    def last_seq(self, gateway_id: str) -> int:
        """The highest ``seq`` stored for the gateway; 0 for one the cloud never heard from."""
        response = self._ddb.get_item(
            TableName=self._table,
            Key={"gateway_id": to_attr(gateway_id)},
            ProjectionExpression="last_seq",
            ConsistentRead=True,
        )
        value = response.get("Item", {}).get("last_seq", {}).get("N")
        return int(value) if value is not None else 0

    def get(self, gateway_id: str) -> dict[str, Any] | None:
        response = self._ddb.get_item(
            TableName=self._table, Key={"gateway_id": to_attr(gateway_id)}
        )
        item = response.get("Item")
        return from_item(item) if item else None
