"""The DynamoDB tables of the shared contract, hardened.

Every table: on-demand billing, a customer-managed KMS key, point-in-time
recovery, deletion protection and RETAIN on stack deletion. Every access pattern
is served by the primary key or a GSI (see docs/cloud.md); nothing here needs a
Scan, and the IAM grants in :mod:`wardlink_infra.grants` never allow one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from constructs import Construct


@dataclass(frozen=True)
class IndexDef:
    name: str
    partition_key: str
    sort_key: str


@dataclass(frozen=True)
class TableDef:
    """A contract table: construct id, the Lambda env var carrying its name, keys, GSIs."""

    construct_id: str
    env_var: str
    partition_key: str
    sort_key: str | None = None
    indexes: tuple[IndexDef, ...] = ()


DEVICES = TableDef(
    "Devices",
    "DEVICES_TABLE",
    "device_uid",
    indexes=(
        IndexDef("by_gateway", "gateway_id", "device_uid"),
        IndexDef("by_model_firmware", "model", "firmware_sk"),
        IndexDef("by_site", "site_id", "device_uid"),
        IndexDef("by_serial", "serial_number", "device_uid"),
        IndexDef("by_category_firmware", "category", "fw_key"),
        IndexDef("by_model_prefix", "model_head", "model_sk"),
        IndexDef("by_firmware_model", "fw_norm", "model_uid"),
    ),
)
GATEWAYS = TableDef(
    "Gateways", "GATEWAYS_TABLE", "gateway_id",
    indexes=(IndexDef("by_site", "site_id", "gateway_id"),),
)
DETECTOR_STATE = TableDef("DetectorState", "DETECTOR_STATE_TABLE", "detector_key")
ALARMS = TableDef(
    "Alarms", "ALARMS_TABLE", "alarm_id",
    indexes=(IndexDef("by_state", "state", "last_change"),),
)
ALARM_AUDIT = TableDef("AlarmAudit", "ALARM_AUDIT_TABLE", "alarm_id", sort_key="at_seq")

ALL_TABLES: tuple[TableDef, ...] = (DEVICES, GATEWAYS, DETECTOR_STATE, ALARMS, ALARM_AUDIT)


@dataclass(frozen=True)
class DeployedTable:
    """A table as deployed, with its definition (the grants need the index names)."""

    definition: TableDef
    table: dynamodb.Table

    @property
    def index_arns(self) -> list[str]:
        return [f"{self.table.table_arn}/index/{ix.name}" for ix in self.definition.indexes]


def _string_key(name: str) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=name, type=dynamodb.AttributeType.STRING)


class Tables(Construct):
    """The five contract tables, keyed by their construct id (``Devices``, ...)."""

    def __init__(self, scope: Construct, construct_id: str, *, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        self._tables: dict[str, DeployedTable] = {}
        for definition in ALL_TABLES:
            table = dynamodb.Table(
                self,
                definition.construct_id,
                partition_key=_string_key(definition.partition_key),
                sort_key=_string_key(definition.sort_key) if definition.sort_key else None,
                billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
                encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
                encryption_key=key,
                point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                    point_in_time_recovery_enabled=True
                ),
                deletion_protection=True,
                removal_policy=cdk.RemovalPolicy.RETAIN,
            )
            for index in definition.indexes:
                table.add_global_secondary_index(
                    index_name=index.name,
                    partition_key=_string_key(index.partition_key),
                    sort_key=_string_key(index.sort_key),
                    projection_type=dynamodb.ProjectionType.ALL,
                )
            self._tables[definition.construct_id] = DeployedTable(definition, table)

    def __getitem__(self, construct_id: str) -> DeployedTable:
        return self._tables[construct_id]

    def __iter__(self) -> Iterator[DeployedTable]:
        return iter(self._tables.values())

    @property
    def devices(self) -> DeployedTable:
        return self._tables[DEVICES.construct_id]

    @property
    def gateways(self) -> DeployedTable:
        return self._tables[GATEWAYS.construct_id]

    @property
    def detector_state(self) -> DeployedTable:
        return self._tables[DETECTOR_STATE.construct_id]

    @property
    def alarms(self) -> DeployedTable:
        return self._tables[ALARMS.construct_id]

    @property
    def alarm_audit(self) -> DeployedTable:
        return self._tables[ALARM_AUDIT.construct_id]

    def environment(self) -> dict[str, str]:
        """``{DEVICES_TABLE: <name>, ...}`` for the Lambda environment."""
        return {t.definition.env_var: t.table.table_name for t in self}
