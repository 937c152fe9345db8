"""Key schemas of the cloud tables, as the shared contract fixes them.

The CDK app declares the same tables for AWS; the local cloud and the tests create
them from these specs in DynamoDB Local. Every access pattern the repositories
serve maps to one of these keys (see docs/api.md):

* Devices: by ``device_uid``; by gateway (``by_gateway``); by model and firmware
  (``by_model_firmware``, sort key ``"{firmware_version}#{device_uid}"``); by site
  (``by_site``); by serial number (``by_serial``: a unit's inventory record and the
  registrations that carry its serial, see ``wardlink.fleet.inventory``); support's
  fleet search by category and firmware (``by_category_firmware``) and by model
  prefix (``by_model_prefix``), see ``wardlink.cloudapi.repositories.fleet``.
* Gateways: by ``gateway_id``; by site (``by_site``).
* DetectorState: by ``detector_key``.
* Alarms: by ``alarm_id``; by state, newest change last (``by_state``).
* AlarmAudit: by ``alarm_id``, in time order (``at_seq``).

GSIs project ALL attributes so a fleet search is one Query, not a Query plus a
BatchGetItem; device rows are small, so the storage cost is low.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class IndexSpec:
    name: str
    partition_key: str
    sort_key: str | None = None


@dataclass(frozen=True)
class TableSpec:
    """One table: its logical name, the env var that carries its deployed name, keys."""

    logical_name: str
    env_var: str
    partition_key: str
    sort_key: str | None = None
    indexes: tuple[IndexSpec, ...] = ()

    def key_attributes(self) -> list[str]:
        names = [self.partition_key]
        if self.sort_key:
            names.append(self.sort_key)
        for index in self.indexes:
            names.append(index.partition_key)
            if index.sort_key:
                names.append(index.sort_key)
        return list(dict.fromkeys(names))

    def create_table_request(self, table_name: str) -> dict[str, Any]:
        """``CreateTable`` arguments (on-demand billing), for DynamoDB Local or tests."""

        def key_schema(pk: str, sk: str | None) -> list[dict[str, str]]:
            schema = [{"AttributeName": pk, "KeyType": "HASH"}]
            if sk:
                schema.append({"AttributeName": sk, "KeyType": "RANGE"})
            return schema

        request: dict[str, Any] = {
            "TableName": table_name,
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [
                {"AttributeName": name, "AttributeType": "S"} for name in self.key_attributes()
            ],
            "KeySchema": key_schema(self.partition_key, self.sort_key),
        }
        if self.indexes:
            request["GlobalSecondaryIndexes"] = [
                {
                    "IndexName": index.name,
                    "KeySchema": key_schema(index.partition_key, index.sort_key),
                    "Projection": {"ProjectionType": "ALL"},
                }
                for index in self.indexes
            ]
        return request


DEVICES = TableSpec(
    logical_name="Devices",
    env_var="DEVICES_TABLE",
    partition_key="device_uid",
    indexes=(
        IndexSpec("by_gateway", "gateway_id", "device_uid"),
        IndexSpec("by_model_firmware", "model", "firmware_sk"),
        IndexSpec("by_site", "site_id", "device_uid"),
        IndexSpec("by_serial", "serial_number", "device_uid"),
        IndexSpec("by_category_firmware", "category", "fw_key"),
        IndexSpec("by_model_prefix", "model_head", "model_sk"),
        IndexSpec("by_firmware_model", "fw_norm", "model_uid"),
    ),
)
GATEWAYS = TableSpec(
    logical_name="Gateways",
    env_var="GATEWAYS_TABLE",
    partition_key="gateway_id",
    indexes=(IndexSpec("by_site", "site_id", "gateway_id"),),
)
DETECTOR_STATE = TableSpec(
    logical_name="DetectorState", env_var="DETECTOR_STATE_TABLE", partition_key="detector_key"
)
ALARMS = TableSpec(
    logical_name="Alarms",
    env_var="ALARMS_TABLE",
    partition_key="alarm_id",
    indexes=(IndexSpec("by_state", "state", "last_change"),),
)
ALARM_AUDIT = TableSpec(
    logical_name="AlarmAudit",
    env_var="ALARM_AUDIT_TABLE",
    partition_key="alarm_id",
    sort_key="at_seq",
)

ALL_TABLES: tuple[TableSpec, ...] = (DEVICES, GATEWAYS, DETECTOR_STATE, ALARMS, ALARM_AUDIT)
