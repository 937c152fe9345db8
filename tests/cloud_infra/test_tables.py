"""DynamoDB: the contract's tables, encrypted with our key, PITR, protected, on-demand."""

from __future__ import annotations

from typing import Any

from tests.cloud_infra.template_helpers import Resources, get_att_arn, of_type, only, props
from wardlink.cloudapi.schema import ALL_TABLES


def _tables(resources: Resources) -> list[dict[str, Any]]:
    return [props(r) for r in of_type(resources, "AWS::DynamoDB::Table").values()]


def _data_key_id(resources: Resources) -> str:
    keys = [k for k, r in of_type(resources, "AWS::KMS::Key").items() if "DataKey" in k]
    assert len(keys) == 1
    return keys[0]


def test_five_tables_encrypted_with_the_customer_managed_key(resources: Resources) -> None:
    tables = _tables(resources)
    assert len(tables) == 5
    key = get_att_arn(_data_key_id(resources))
    for table in tables:
        assert table["SSESpecification"] == {
            "SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": key,
        }


def test_tables_have_pitr_deletion_protection_and_on_demand(resources: Resources) -> None:
    for logical_id, resource in of_type(resources, "AWS::DynamoDB::Table").items():
        table = props(resource)
        assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert table["DeletionProtectionEnabled"] is True
        assert table["BillingMode"] == "PAY_PER_REQUEST"
        assert resource["DeletionPolicy"] == "Retain", logical_id


def test_data_key_rotates(resources: Resources) -> None:
    for key in of_type(resources, "AWS::KMS::Key").values():
        assert props(key)["EnableKeyRotation"] is True


def _key_schema(schema: list[dict[str, str]]) -> tuple[str, str | None]:
    hash_key = next(k["AttributeName"] for k in schema if k["KeyType"] == "HASH")
    range_key = next((k["AttributeName"] for k in schema if k["KeyType"] == "RANGE"), None)
    return hash_key, range_key


def test_keys_and_indexes_match_the_handlers_schema(resources: Resources) -> None:
    """The deployed tables serve exactly the keys the repositories query (no drift)."""
    deployed = set()
    for table in _tables(resources):
        indexes = frozenset(
            (ix["IndexName"], *_key_schema(ix["KeySchema"]), ix["Projection"]["ProjectionType"])
            for ix in table.get("GlobalSecondaryIndexes", [])
        )
        deployed.add((_key_schema(table["KeySchema"]), indexes))
    expected = set()
    for spec in ALL_TABLES:
        indexes = frozenset(
            (ix.name, ix.partition_key, ix.sort_key, "ALL") for ix in spec.indexes
        )
        expected.add(((spec.partition_key, spec.sort_key), indexes))
    assert deployed == expected


def test_backup_plan_covers_every_table(resources: Resources) -> None:
    _, selection = only(resources, "AWS::Backup::BackupSelection")
    selected = selection["Properties"]["BackupSelection"]["Resources"]
    tables = of_type(resources, "AWS::DynamoDB::Table")
    assert sorted(selected, key=str) == sorted((get_att_arn(t) for t in tables), key=str)
