"""Create the cloud tables (same keys and GSIs as the CDK app) in DynamoDB Local."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from wardlink.cloudapi.schema import ALL_TABLES, TableSpec


def table_names(prefix: str) -> dict[str, str]:
    """Deployed table name per env var, e.g. ``DEVICES_TABLE -> wardlink-local-Devices``."""
    return {spec.env_var: f"{prefix}{spec.logical_name}" for spec in ALL_TABLES}


def create_tables(client: Any, prefix: str, specs: tuple[TableSpec, ...] = ALL_TABLES) -> None:
    """Create every table that does not exist yet and wait until each is ACTIVE."""
    for spec in specs:
        name = f"{prefix}{spec.logical_name}"
        try:
            client.create_table(**spec.create_table_request(name))
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceInUseException":
                raise
        client.get_waiter("table_exists").wait(
            TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
        )
