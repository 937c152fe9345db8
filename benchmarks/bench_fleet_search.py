"""Fleet search latency over 200,000 devices in DynamoDB Local, beside bare GetItem/Query.

The issue asks p95 <= 100 ms for the indexed query shapes of support's fleet search
(category with firmware, model prefix with firmware, site, gateway). One DynamoDB
Local holds a Devices table (the cloud's keys and indexes) with 200,000 devices:
half inventory units (category, serial), half gateway registrations, spread over
10 categories, 30 models, 20 firmware versions, 400 sites and 2,000 gateways.

Measured in the same run, one page of 50 each time:

* baseline: a bare ``GetItem`` of one device and a bare ``Query`` of one gateway's
  devices on ``by_gateway`` (what DynamoDB Local itself costs);
* ``FleetSearchRepository.search`` for each indexed shape (what the handler runs);
* the same shapes end to end through the local cloud's SigV4 API (``GET
  /fleet/devices``: signing, HTTP, the handler, pydantic);
* a filter no index serves (a paged scan), for information only.

    .venv/bin/python benchmarks/bench_fleet_search.py [--devices 200000] [--runs 200]

Prints a JSON summary (p50/p95 ms per shape). Nothing here is a test.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.credentials import Credentials

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.dynamodb_local import running_dynamodb_local
from wardlink.cloudapi.repositories.fleet import (
    FleetSearch,
    FleetSearchRepository,
    index_attributes,
)
from wardlink.cloudapi.repositories.items import to_attr
from wardlink.cloudclient import WardlinkApiClient
from wardlink.localcloud import LocalCloud
from wardlink.localcloud.tables import create_tables

PREFIX = "bench-"
TABLE = f"{PREFIX}Devices"
CATEGORIES = ("glucose-meter", "pulse-oximeter", "bp-monitor", "infusion-pump", "ventilator",
              "thermometer", "ecg", "scale", "spirometer", "analyzer")  # fmt: skip
FIRMWARES = tuple(f"{major}.{minor}.0.{patch}" for major in (1, 2) for minor in (2, 3)
                  for patch in range(5))  # fmt: skip
MODELS = tuple(f"{c.split('-')[0].title()} Model {n}" for c in CATEGORIES for n in range(3))


def _item(i: int) -> dict[str, Any]:
    category = CATEGORIES[i % len(CATEGORIES)]
    model = MODELS[(i % len(CATEGORIES)) * 3 + (i // 7) % 3]
    firmware = FIRMWARES[(i // 3) % len(FIRMWARES)]
    if i % 2:
        uid = f"inventory#SN-{i:08d}"
        fields: dict[str, Any] = {
            "record": "inventory", "serial_number": f"SN-{i:08d}", "category": category,
            "assigned_site_id": f"site-{i % 400}",
        }  # fmt: skip
    else:
        gateway = f"gw-{i % 2000:05d}"
        uid = f"{gateway}/dev-{i:08d}"
        fields = {
            "gateway_id": gateway, "device_id": f"dev-{i:08d}", "site_id": f"site-{i % 400}",
            "status": "connected" if i % 10 else "disconnected", "manufacturer": "Acme",
            "last_seen": "2026-12-06T06:00:00Z", "registered_at": "2026-12-01T00:00:00Z",
            "firmware_sk": f"{firmware}#{uid}",
        }  # fmt: skip
    fields.update(model=model, firmware_version=firmware, device_uid=uid)
    fields.update(index_attributes(uid, model, firmware))
    return {k: to_attr(v) for k, v in fields.items()}


def _load(client: Any, count: int, workers: int) -> float:
    started = time.perf_counter()

    def write(start: int) -> None:
        batch = [{"PutRequest": {"Item": _item(i)}} for i in range(start, min(start + 25, count))]
        request: dict[str, Any] = {TABLE: batch}
        while request:
            request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(write, range(0, count, 25)))
    return time.perf_counter() - started


def _percentiles(run: Callable[[int], int], runs: int) -> dict[str, float]:
    times = []
    found = 0
    for i in range(runs):
        started = time.perf_counter()
        found += run(i)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {
        "p50_ms": round(statistics.median(times), 2),
        "p95_ms": round(times[max(0, int(len(times) * 0.95) - 1)], 2),
        "mean_items": round(found / runs, 1),
    }


def _shapes(count: int) -> dict[str, Callable[[int], FleetSearch]]:
    """Each run asks about a device that exists (run i picks device k), so pages fill."""

    def pick(i: int) -> dict[str, str]:
        k = (i * 7919) % count
        fields = {key: value["S"] for key, value in _item(k).items() if "S" in value}
        return fields

    return {
        "category+firmware": lambda i: FleetSearch(
            category=CATEGORIES[((i * 7919) % count) % len(CATEGORIES)],
            firmware=pick(i)["firmware_version"],
        ),
        "model_prefix+firmware": lambda i: FleetSearch(
            model=pick(i)["model"].split(" ")[0].lower(), firmware=pick(i)["firmware_version"]
        ),
        "site": lambda i: FleetSearch(site_id=f"site-{((i * 2 * 7919) % count) % 400}"),
        "gateway": lambda i: FleetSearch(gateway_id=f"gw-{((i * 2 * 7919) % count) % 2000:05d}"),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    random.seed(7)
    summary: dict[str, Any] = {"devices": args.devices, "runs": args.runs, "page": 50}
    with running_dynamodb_local() as endpoint:
        client = boto3.client(
            "dynamodb", endpoint_url=endpoint, region_name="us-east-1",
            aws_access_key_id="bench", aws_secret_access_key="bench",
            config=Config(max_pool_connections=32, retries={"mode": "standard"}),
        )  # fmt: skip
        create_tables(client, PREFIX)
        summary["load_s"] = round(_load(client, args.devices, args.workers), 1)

        def get_item(i: int) -> int:
            uid = f"gw-{(i * 2) % 2000:05d}/dev-{(i * 2):08d}"
            found = client.get_item(TableName=TABLE, Key={"device_uid": to_attr(uid)})
            return 1 if "Item" in found else 0

        def query_by_gateway(i: int) -> int:
            return int(
                client.query(
                    TableName=TABLE,
                    IndexName="by_gateway",
                    Limit=50,
                    KeyConditionExpression="gateway_id = :g",
                    ExpressionAttributeValues={":g": to_attr(f"gw-{i % 2000:05d}")},
                )["Count"]
            )

        summary["baseline"] = {
            "get_item": _percentiles(get_item, args.runs),
            "query_by_gateway": _percentiles(query_by_gateway, args.runs),
        }
        repository = FleetSearchRepository(client, TABLE)

        def searching(shape: Callable[[int], FleetSearch]) -> Callable[[int], int]:
            return lambda i: len(repository.search(shape(i), 50).items)

        summary["repository"] = {
            name: _percentiles(searching(shape), args.runs)
            for name, shape in _shapes(args.devices).items()
        }
        summary["repository_scan_status_only"] = _percentiles(
            lambda i: len(repository.search(FleetSearch(status="disconnected"), 50).items), 5
        )

        with LocalCloud(dynamodb_endpoint=endpoint, table_prefix=PREFIX, detectors=False,
                        log_level="ERROR") as cloud:  # fmt: skip
            who = cloud.support_credentials()
            api = WardlinkApiClient(cloud.endpoint, cloud.region,
                                    Credentials(who.access_key, who.secret_key,
                                                who.session_token))  # fmt: skip

            def through_api(shape: Callable[[int], FleetSearch]) -> Callable[[int], int]:
                def run(i: int) -> int:
                    search = shape(i)
                    query = {k: v for k, v in search.__dict__.items() if v is not None}
                    _, data = api.send("GET", "/fleet/devices", b"", {**query, "limit": "50"})
                    return len(json.loads(data)["items"])

                return run

            summary["api"] = {
                name: _percentiles(through_api(shape), args.runs)
                for name, shape in _shapes(args.devices).items()
            }
    indexed = [*summary["repository"].values(), *summary["api"].values()]
    summary["target_p95_ms"] = 100
    summary["all_indexed_shapes_within_target"] = all(s["p95_ms"] <= 100 for s in indexed)
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
