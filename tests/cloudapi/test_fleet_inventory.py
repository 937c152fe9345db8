"""The device inventory: validation at 200,000 rows, loading into DynamoDB Local, re-runs.

The load goes through the real command (``wardlink fleet register --env-file F``) as
the operator from the local cloud's env file, into the session's DynamoDB Local.
Unprocessed items are produced by a client that holds some back, as DynamoDB does
under throttling, so the retry path is exercised against the real table.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.fleet_api import client_for
from wardlink.cli.main import main
from wardlink.fleet.inventory import (
    InventoryLoader,
    Row,
    inventory_uid,
    locate,
    read_inventory,
    validate_rows,
)
from wardlink.localcloud import LocalCloud


def _unit(prefix: str, i: int, **changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "serial_number": f"{prefix}-{i:07d}",
        "model": "GlucoCheck 3",
        "category": "glucose-meter",
        "firmware_version": "2.1.0",
        "site_id": f"site-{i % 50}",
        "lot": f"L{i // 1000}",
    }
    row.update(changes)
    return row


def _env_file(cloud: LocalCloud, tmp_path: Path) -> Path:
    path = tmp_path / "cloud.env"
    path.write_text("".join(f"{k}={v}\n" for k, v in cloud.environment().items()))
    return path


def _table(cloud: LocalCloud) -> str:
    assert cloud.services is not None
    return cloud.services.settings.devices_table


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_200000_rows_validate_with_duplicates_and_bad_rows_named() -> None:
    rows = [Row(i + 1, _unit("V", i), "") for i in range(200_000)]
    rows[10] = Row(11, _unit("V", 3), "dup")  # serial of line 4 again
    rows[20] = Row(21, _unit("V", 20, category="Glucose Meter"), "bad category")
    rows[30] = Row(31, {k: v for k, v in _unit("V", 30).items() if k != "site_id"}, "no site")
    rows[40] = Row(41, None, "{oops", "not JSON")
    validated = validate_rows(rows)
    assert len(validated.records) == 200_000 - 4
    by_line = {e.line: e.error for e in validated.errors}
    assert by_line[11] == "duplicate of line 4"
    assert "category" in by_line[21] and "site_id" in by_line[31] and by_line[41] == "not JSON"
    assert validated.records[0][1].attributes == {"lot": "L0"}


def test_20000_units_load_and_a_rerun_changes_nothing(
    local_cloud: LocalCloud, tmp_path: Path, unique: str
) -> None:
    inventory = tmp_path / "inventory.jsonl"
    inventory.write_text("".join(json.dumps(_unit(unique, i)) + "\n" for i in range(20_000)))
    env = _env_file(local_cloud, tmp_path)

    assert main(["fleet", "register", "--env-file", str(env), str(inventory)]) == 0
    reports = tmp_path / "inventory.jsonl.report"
    results = _lines(reports / "results.jsonl")
    assert len(results) == 20_000 and {r["outcome"] for r in results} == {"created"}
    assert (reports / "errors.jsonl").read_text() == ""
    assert not (reports / "retry.jsonl").exists()

    assert local_cloud.services is not None
    ddb = local_cloud.services.dynamodb
    key = {"device_uid": {"S": inventory_uid(f"{unique}-0012345")}}
    before = ddb.get_item(TableName=_table(local_cloud), Key=key, ConsistentRead=True)["Item"]
    assert before["assigned_site_id"] == {"S": "site-45"}
    assert "gateway_id" not in before and "firmware_sk" not in before  # off the API's indexes

    assert main(["fleet", "register", "--env-file", str(env), str(inventory)]) == 0
    results = _lines(reports / "results.jsonl")
    assert {r["outcome"] for r in results} == {"unchanged"}
    after = ddb.get_item(TableName=_table(local_cloud), Key=key, ConsistentRead=True)["Item"]
    assert after == before


def test_bad_rows_and_duplicates_go_to_the_errors_report_and_retry_file(
    local_cloud: LocalCloud, tmp_path: Path, unique: str
) -> None:
    inventory = tmp_path / "units.csv"
    columns = ["serial_number", "model", "category", "firmware_version", "site_id", "lot"]
    with inventory.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, columns)
        writer.writeheader()
        for i in range(5):
            writer.writerow(_unit(unique, i))
        writer.writerow(_unit(unique, 2))  # line 8: duplicate of line 4
        writer.writerow(_unit(unique, 6, firmware_version="2.1 beta"))  # line 9: bad version
    env = _env_file(local_cloud, tmp_path)
    reports = tmp_path / "reports"

    code = main(
        ["fleet", "register", "--env-file", str(env), str(inventory), "--report-dir", str(reports)]
    )
    assert code == 1
    assert [r["outcome"] for r in _lines(reports / "results.jsonl")] == ["created"] * 5
    errors = _lines(reports / "errors.jsonl")
    assert [(e["line"], e["serial_number"]) for e in errors] == [
        (7, f"{unique}-0000002"), (8, f"{unique}-0000006"),
    ]  # fmt: skip
    assert errors[0]["error"] == "duplicate of line 4" and "firmware_version" in errors[1]["error"]
    retry = reports / "retry.csv"
    retried = read_inventory(retry)
    assert retried.header == columns and [r.line for r in retried.rows] == [2, 3]

    # fix the retry file (drop the duplicate, correct the version) and load it
    retry.write_text(
        retry.read_text().splitlines()[0]
        + "\n"
        + retry.read_text().splitlines()[2].replace("2.1 beta", "2.1.1")
        + "\n"
    )
    assert (
        main(
            [
                "fleet",
                "register",
                "--env-file",
                str(env),
                str(retry),
                "--report-dir",
                str(tmp_path / "r2"),
            ]
        )
        == 0
    )
    assert [r["outcome"] for r in _lines(tmp_path / "r2" / "results.jsonl")] == ["created"]


class _Throttling:
    """A real client that leaves some items unprocessed, as DynamoDB does when throttled."""

    def __init__(self, inner: Any, hold_back: int, forever: bool = False) -> None:
        self._inner = inner
        self._hold_back = hold_back
        self._forever = forever
        self.write_calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        self.write_calls += 1
        ((table, requests),) = RequestItems.items()
        if self._hold_back and (self._forever or self.write_calls == 1):
            kept, held = requests[: -self._hold_back], requests[-self._hold_back :]
            if kept:
                self._inner.batch_write_item(RequestItems={table: kept})
            return {"UnprocessedItems": {table: held}}
        result: dict[str, Any] = self._inner.batch_write_item(RequestItems=RequestItems)
        return result


def test_unprocessed_items_are_retried_and_what_never_lands_is_a_failure(
    local_cloud: LocalCloud, unique: str
) -> None:
    assert local_cloud.services is not None
    table = _table(local_cloud)
    records = validate_rows([Row(i + 1, _unit(unique, i), "") for i in range(30)]).records

    flaky = _Throttling(local_cloud.services.dynamodb, hold_back=7)
    outcomes = InventoryLoader(flaky, table, workers=1, base_delay_s=0.001).load(records[:20])
    assert {o.outcome for o in outcomes} == {"created"} and flaky.write_calls == 2

    stuck = _Throttling(local_cloud.services.dynamodb, hold_back=3, forever=True)
    loader = InventoryLoader(stuck, table, workers=1, max_attempts=3, base_delay_s=0.001)
    outcomes = loader.load(records[20:])
    assert [o.outcome for o in outcomes] == ["failed"] * 10  # one batch: all its rows to retry
    again = InventoryLoader(local_cloud.services.dynamodb, table).load(records[20:])
    assert [o.outcome for o in again] == ["unchanged"] * 7 + ["created"] * 3


def test_a_registered_unit_is_located_and_a_changed_row_keeps_others_fields(
    local_cloud: LocalCloud, unique: str
) -> None:
    assert local_cloud.services is not None
    ddb, table = local_cloud.services.dynamodb, _table(local_cloud)
    serial = f"{unique}-0000001"
    records = validate_rows([Row(1, _unit(unique, 1), "")]).records
    InventoryLoader(ddb, table).load(records)
    key = {"device_uid": {"S": inventory_uid(serial)}}
    ddb.update_item(
        TableName=table, Key=key, UpdateExpression="SET service_note = :n",
        ExpressionAttributeValues={":n": {"S": "recalled lot"}},
    )  # fmt: skip

    gateway = f"gw-{unique}"
    client_for(local_cloud, local_cloud.gateway_credentials(gateway)).register_device(
        gateway_id=gateway, device_id="glu-1", model="GlucoCheck 3", serial_number=serial,
        site_id="site-1",
    )  # fmt: skip
    client_for(local_cloud, local_cloud.gateway_credentials(gateway)).register_device(
        gateway_id=gateway,
        device_id="glu-2",
        model="GlucoCheck 3",  # serial dropped by policy
    )
    inventory, registered = locate(ddb, table, serial)
    assert inventory is not None and inventory["assigned_site_id"] == "site-1"
    assert [(r["gateway_id"], r["device_id"], r["site_id"]) for r in registered] == [
        (gateway, "glu-1", "site-1")
    ]

    changed = validate_rows([Row(1, _unit(unique, 1, firmware_version="2.2.0"), "")]).records
    assert [o.outcome for o in InventoryLoader(ddb, table).load(changed)] == ["updated"]
    item = ddb.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
    assert item["firmware_version"] == {"S": "2.2.0"} and item["service_note"] == {
        "S": "recalled lot"
    }


@pytest.mark.parametrize(
    "text", ["[1, 2]\n", '{"serial_number": "A"\n'], ids=["not-an-object", "truncated"]
)
def test_unreadable_jsonl_lines_are_rows_in_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text(text)
    validated = validate_rows(read_inventory(path).rows)
    assert validated.records == [] and [e.line for e in validated.errors] == [1]
