"""Inventory load rate into DynamoDB Local, beside a bare parallel BatchWriteItem loop.

The issue asks the 200,000-device inventory to be validated and loaded at no less
than 0.8x the throughput of a bare parallel BatchWriteItem loop. Both run in this
process against one DynamoDB Local, each into a fresh Devices table (same keys and
indexes as the cloud), with the same thread count:

* baseline: the items already built, written 25 a request by N threads, unprocessed
  items re-sent; nothing else;
* measured: ``validate_rows`` over the parsed rows, then ``InventoryLoader.load``
  (BatchGetItem of each chunk's hashes, then the same BatchWriteItem puts);
* then the re-run of the measured load (every unit ``unchanged``, nothing written).

    .venv/bin/python benchmarks/bench_fleet_inventory.py [--rows 200000] [--workers 8]

Prints a JSON summary (rows/s and the ratio). Nothing here is a test.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.dynamodb_local import running_dynamodb_local
from wardlink.fleet.inventory import InventoryLoader, InventoryRecord, Row, validate_rows
from wardlink.localcloud.tables import create_tables


def _rows(count: int) -> list[Row]:
    return [
        Row(
            i + 1,
            {
                "serial_number": f"GC3-{i:08d}",
                "model": "GlucoCheck 3",
                "category": "glucose-meter",
                "firmware_version": f"2.{i % 4}.0",
                "site_id": f"site-{i % 400}",
                "lot": f"L{i // 5000}",
            },
            "",
        )
        for i in range(count)
    ]


def _bare(client: Any, table: str, items: list[dict[str, Any]], workers: int) -> None:
    def write(start: int) -> None:
        request: dict[str, Any] = {
            table: [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        }
        while request:
            request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(write, range(0, len(items), 25)))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()
    rows = _rows(args.rows)
    with running_dynamodb_local() as endpoint:
        client = boto3.client(
            "dynamodb", endpoint_url=endpoint, region_name="us-east-1",
            aws_access_key_id="bench", aws_secret_access_key="bench",
            config=Config(max_pool_connections=32, retries={"mode": "standard"}),
        )  # fmt: skip
        create_tables(client, "bare-")
        create_tables(client, "fleet-")
        items = [InventoryRecord.model_validate(r.fields).item() for r in rows]

        started = time.perf_counter()
        _bare(client, "bare-Devices", items, args.workers)
        bare_s = time.perf_counter() - started

        started = time.perf_counter()
        validated = validate_rows(rows)
        outcomes = InventoryLoader(client, "fleet-Devices", workers=args.workers).load(
            validated.records
        )
        load_s = time.perf_counter() - started
        assert {o.outcome for o in outcomes} == {"created"}

        started = time.perf_counter()
        again = InventoryLoader(client, "fleet-Devices", workers=args.workers).load(
            validate_rows(rows).records
        )
        rerun_s = time.perf_counter() - started
        assert {o.outcome for o in again} == {"unchanged"}
    summary = {
        "rows": args.rows,
        "workers": args.workers,
        "baseline_bare_batch_write_rows_per_s": round(args.rows / bare_s),
        "validate_and_load_rows_per_s": round(args.rows / load_s),
        "ratio": round(bare_s / load_s, 3),
        "rerun_unchanged_rows_per_s": round(args.rows / rerun_s),
        "target_ratio": 0.8,
    }
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
