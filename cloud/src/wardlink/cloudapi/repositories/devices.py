"""The Devices table: registration upsert, lookup, fleet search, linked data files.

Access patterns (each one a GetItem or a Query, never a Scan):

* one device: ``GetItem(device_uid)``;
* devices of a gateway: ``Query by_gateway (gateway_id)``;
* fleet search by model, optionally one firmware version:
  ``Query by_model_firmware (model, begins_with(firmware_sk, "{version}#"))``;
* devices of a site: ``Query by_site (site_id)``.

``firmware_sk`` is derived here on every write, so it can never drift from
``firmware_version``; the ``#`` after the version makes "1.2.0.4" not match "1.2.0.40".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from wardlink.cloudapi.errors import BadRequest, Conflict, NotFound
from wardlink.cloudapi.repositories.fleet import index_attributes
from wardlink.cloudapi.repositories.items import (
    decode_token,
    encode_token,
    from_item,
    to_attr,
)
from wardlink.contract.models import (
    UNKNOWN_FIRMWARE,
    DataFile,
    Device,
    DeviceRegistration,
    device_uid,
)

MAX_DATA_FILES = 500  # keeps a device row far below DynamoDB's 400 KB item limit

_KEY_ATTRIBUTES = {
    "by_gateway": {"device_uid", "gateway_id"},
    "by_model_firmware": {"device_uid", "model", "firmware_sk"},
    "by_site": {"device_uid", "site_id"},
}


def firmware_sort_key(firmware_version: str | None, uid: str) -> str:
    return f"{firmware_version or UNKNOWN_FIRMWARE}#{uid}"


@dataclass(frozen=True)
class FleetQuery:
    """Exactly one selector: a gateway, a site, or a model (with optional firmware).

    ``within_gateway`` is a gateway's own search: it reads only that gateway's
    partition, and site, model and firmware (all optional) narrow it as filters, so
    no selector can reach another gateway's devices.
    """

    gateway_id: str | None = None
    site_id: str | None = None
    model: str | None = None
    firmware_version: str | None = None
    within_gateway: str | None = None

    def __post_init__(self) -> None:
        if self.within_gateway:
            if self.firmware_version and not self.model:
                raise BadRequest("firmware_version is only searchable together with model")
            return
        chosen = [n for n in ("gateway_id", "site_id", "model") if getattr(self, n)]
        if len(chosen) != 1:
            raise BadRequest(
                "search needs exactly one of gateway_id, site_id or model "
                "(firmware_version goes with model)"
            )
        if self.firmware_version and not self.model:
            raise BadRequest("firmware_version is only searchable together with model")

    def index_query(self) -> tuple[str, str, dict[str, Any]]:
        """(index name, key condition, expression values) for this selector."""
        if self.within_gateway:
            return "by_gateway", "gateway_id = :pk", {":pk": to_attr(self.within_gateway)}
        if self.gateway_id:
            return "by_gateway", "gateway_id = :pk", {":pk": to_attr(self.gateway_id)}
        if self.site_id:
            return "by_site", "site_id = :pk", {":pk": to_attr(self.site_id)}
        values = {":pk": to_attr(self.model)}
        if self.firmware_version:
            values[":fw"] = to_attr(f"{self.firmware_version}#")
            return "by_model_firmware", "model = :pk AND begins_with(firmware_sk, :fw)", values
        return "by_model_firmware", "model = :pk", values


class DeviceRepository:
    def __init__(self, client: Any, table_name: str) -> None:
        self._ddb = client
        self._table = table_name

    def upsert(self, registration: DeviceRegistration, now: str) -> tuple[Device, bool]:
        """Create or replace a device's description; returns (device, created).

        ``registered_at`` and ``data_files`` survive re-registration; ``last_seen``
        moves to ``now``. One UpdateItem, so concurrent registrations cannot lose
        each other's data files.
        """
        uid = device_uid(registration.gateway_id, registration.device_id)
        fields: dict[str, Any] = registration.model_dump(mode="json")
        fields["firmware_sk"] = firmware_sort_key(registration.firmware_version, uid)
        fields.update(index_attributes(uid, registration.model, registration.firmware_version))
        fields["last_seen"] = now
        names: dict[str, str] = {}
        values: dict[str, Any] = {":now": to_attr(now), ":empty": to_attr([])}
        sets: list[str] = []
        removes: list[str] = []
        for i, (name, value) in enumerate(sorted(fields.items())):
            names[f"#f{i}"] = name
            if value is None:
                removes.append(f"#f{i}")
            else:
                values[f":f{i}"] = to_attr(value)
                sets.append(f"#f{i} = :f{i}")
        names["#reg"] = "registered_at"
        names["#files"] = "data_files"
        sets.append("#reg = if_not_exists(#reg, :now)")
        sets.append("#files = if_not_exists(#files, :empty)")
        expression = "SET " + ", ".join(sets)
        if removes:
            expression += " REMOVE " + ", ".join(removes)
        response = self._ddb.update_item(
            TableName=self._table,
            Key={"device_uid": to_attr(uid)},
            UpdateExpression=expression,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        )
        device = Device.model_validate(from_item(response["Attributes"]))
        return device, device.registered_at == now

    def get(self, uid: str) -> Device | None:
        response = self._ddb.get_item(
            TableName=self._table, Key={"device_uid": to_attr(uid)}, ConsistentRead=True
        )
        item = response.get("Item")
        return Device.model_validate(from_item(item)) if item else None

    def get_many(self, uids: Iterable[str]) -> dict[str, Device]:
        """Devices by key, for joins (alarms -> devices). Missing ones are left out."""
        wanted = list(dict.fromkeys(uids))
        found: dict[str, Device] = {}
        for start in range(0, len(wanted), 100):
            keys = [{"device_uid": to_attr(u)} for u in wanted[start : start + 100]]
            request = {self._table: {"Keys": keys}}
            while request:
                response = self._ddb.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self._table, []):
                    device = Device.model_validate(from_item(item))
                    found[device.device_uid] = device
                request = response.get("UnprocessedKeys") or {}
        return found

    def search(
        self, query: FleetQuery, limit: int, next_token: str | None = None
    ) -> tuple[list[Device], str | None]:
        index, condition, values = query.index_query()
        values = dict(values)
        filters: list[str] = []
        names: dict[str, str] = {}
        if query.within_gateway:
            for i, (name, value) in enumerate(
                (("site_id", query.site_id), ("model", query.model))
            ):
                if value:
                    names[f"#n{i}"] = name
                    values[f":v{i}"] = to_attr(value)
                    filters.append(f"#n{i} = :v{i}")
            if query.firmware_version:
                names["#fw"] = "firmware_version"
                values[":fwv"] = to_attr(query.firmware_version)
                filters.append("#fw = :fwv")
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": index,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "Limit": limit,
        }
        if filters:
            request["FilterExpression"] = " AND ".join(filters)
            request["ExpressionAttributeNames"] = names
        start = decode_token(next_token, _KEY_ATTRIBUTES[index])
        if start:
            request["ExclusiveStartKey"] = start
        try:
            response = self._ddb.query(**request)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ValidationException" and start:
                raise BadRequest("next_token does not belong to this search") from exc
            raise
        items = [Device.model_validate(from_item(i)) for i in response.get("Items", [])]
        return items, encode_token(response.get("LastEvaluatedKey"))

    def add_data_file(self, uid: str, data_file: DataFile) -> None:
        """Append a data file to an existing device; 404 if the device is unknown."""
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key={"device_uid": to_attr(uid)},
                UpdateExpression="SET #files = list_append(if_not_exists(#files, :empty), :new)",
                ConditionExpression="attribute_exists(device_uid) AND "
                "(attribute_not_exists(#files) OR size(#files) < :max)",
                ExpressionAttributeNames={"#files": "data_files"},
                ExpressionAttributeValues={
                    ":empty": to_attr([]),
                    ":new": to_attr([data_file.model_dump(mode="json", exclude_none=True)]),
                    ":max": to_attr(MAX_DATA_FILES),
                },
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            if self.get(uid) is None:
                raise NotFound(f"device {uid} is not registered") from exc
            raise Conflict(f"device {uid} already links {MAX_DATA_FILES} data files") from exc
