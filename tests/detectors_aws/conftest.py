"""Fixtures: one DynamoDB Local per session (the real jar), fresh tables per test.

DynamoDB Local comes from ``tests/support/dynamodb_local.py`` (npm package, cached
under ``~/.cache/wardlink/ddb``). Each test gets its own table prefix, so tests
stay independent while sharing the Java process. Scheduler, SNS, SQS and IoT
data are AWS-account services; they come from moto (``mock_aws``), which passes
requests for the DynamoDB Local endpoint through untouched.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.detectors_aws.envelopes import Gateway
from tests.support.dynamodb_local import running_dynamodb_local
from wardlink.localcloud.tables import create_tables, table_names

REGION = "eu-west-1"
CATALOG_DIR = (
    Path(__file__).resolve().parents[2] / "cloud" / "src" / "wardlink" / "detectors" / "catalog"
)


@pytest.fixture(scope="session")
def dynamodb_endpoint() -> Iterator[str]:
    with running_dynamodb_local() as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def ddb(dynamodb_endpoint: str) -> Any:
    return boto3.client(
        "dynamodb",
        region_name=REGION,
        endpoint_url=dynamodb_endpoint,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


@dataclass(frozen=True)
class Tables:
    devices: str
    gateways: str
    detector_state: str
    alarms: str
    alarm_audit: str


@pytest.fixture(scope="session")
def tables(ddb: Any) -> Tables:
    """One set of tables per session (creating tables costs seconds); tests use unique keys."""
    prefix = f"t{uuid.uuid4().hex[:8]}-"
    create_tables(ddb, prefix)
    names = table_names(prefix)
    return Tables(
        devices=names["DEVICES_TABLE"],
        gateways=names["GATEWAYS_TABLE"],
        detector_state=names["DETECTOR_STATE_TABLE"],
        alarms=names["ALARMS_TABLE"],
        alarm_audit=names["ALARM_AUDIT_TABLE"],
    )


@pytest.fixture
def gw_id() -> str:
    """A gateway id no other test uses (tables are shared by the session)."""
    return f"gw-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def gateway(tmp_path: Path, gw_id: str) -> Iterator[Gateway]:
    gw = Gateway(tmp_path / "spool", gw_id)
    yield gw
    gw.close()


def register_device(
    ddb: Any, tables: Tables, gateway_id: str, device_id: str, **extra: str
) -> None:
    """A Devices row as the API writes it (serial number included: it must not leak)."""
    item = {
        "device_uid": f"{gateway_id}/{device_id}",
        "device_id": device_id,
        "gateway_id": gateway_id,
        "model": "Nonin 3150",
        "manufacturer": "Nonin",
        "serial_number": "SN-SECRET-0042",
        "firmware_version": "2.1.0",
        "site_id": "st-mary-icu",
        "status": "connected",
        "last_seen": "2026-11-21T08:00:00Z",
        "registered_at": "2026-11-01T08:00:00Z",
        **extra,
    }
    ddb.put_item(TableName=tables.devices, Item={k: {"S": v} for k, v in item.items()})
    ddb.put_item(
        TableName=tables.gateways,
        Item={
            "gateway_id": {"S": gateway_id},
            "site_id": {"S": "st-mary-icu"},
            "status": {"S": "online"},
        },
    )
