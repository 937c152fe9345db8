"""Write rate of the InfluxDB telemetry store against a real, private ``influxd``.

Envelopes of oximeter telemetry (2,000 devices, one point per item) go through
``envelope_to_points`` and ``InfluxDBStore.write`` (batches of 5,000 lines over
``/write``) into Debian's InfluxDB 1.x on loopback, then the same points are
written again (a Kinesis replay: the same keys, overwritten). The baseline,
measured in the same run, is the same points rendered to line protocol and
posted as one body per batch with no store logic at all, so the ratio shows
what batching, bisection bookkeeping and the report cost over a bare POST.

    .venv/bin/python benchmarks/bench_influxdb_writer.py [--points N] [--repeat R]

Prints a JSON summary (points/s). One process on one core writes; a Lambda
container is the same shape. Nothing here is a test: numbers vary by machine.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import urllib3

from wardlink.cloudapi.telemetry import InboundEnvelope, envelope_to_points
from wardlink.cloudapi.telemetry.influxdb import (
    MAX_BATCH_LINES,
    InfluxDBStore,
    InfluxHTTP,
    to_line,
)
from wardlink.cloudapi.telemetry.points import TelemetryPoint
from wardlink.localcloud.influxdb_server import InfluxDBServer

DEVICES = 2000


def _points(count: int) -> list[TelemetryPoint]:
    start = datetime(2026, 12, 1, tzinfo=UTC)
    points: list[TelemetryPoint] = []
    per_device = max(1, count // DEVICES)
    for device in range(DEVICES):
        envelope = InboundEnvelope.parse({
            "schema_version": "wardlink.envelope/1", "gateway_id": f"gw-{device // 20}",
            "kind": "telemetry",
            "items": [{"seq": i + 1, "device_id": f"spo2-{device}", "device_model": "Nonin 3150",
                       "mdc_code": 150456, "mdc_name": "MDC_PULS_OXIM_SAT_O2",
                       "value": 90 + i % 10, "unit": "%", "quality": "valid",
                       "measured_at": (start + timedelta(seconds=i)).isoformat()}
                      for i in range(per_device)],
        })  # fmt: skip
        points.extend(envelope_to_points(envelope)[0])
    return points[:count]


def _baseline(url: str, database: str, points: list[TelemetryPoint]) -> float:
    pool = urllib3.PoolManager()
    began = time.perf_counter()
    for start in range(0, len(points), MAX_BATCH_LINES):
        body = "\n".join(to_line(p) for p in points[start : start + MAX_BATCH_LINES]).encode()
        response = pool.request("POST", f"{url}/write?db={database}&precision=ms", body=body)
        assert response.status == 204, response.data
    return time.perf_counter() - began


def _store(url: str, database: str, points: list[TelemetryPoint]) -> float:
    store = InfluxDBStore(InfluxHTTP(url), database)
    began = time.perf_counter()
    report = store.write(points)
    elapsed = time.perf_counter() - began
    assert report.stored == len(points) and not report.rejected
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    points = _points(args.points)
    result: dict[str, Any] = {"points": len(points), "batch_lines": MAX_BATCH_LINES}
    with InfluxDBServer() as server:
        assert server.url is not None
        best: dict[str, float] = {}
        for run in range(args.repeat):
            for name, write in (("baseline_post", _baseline), ("store_write", _store),
                                ("store_replay", _store)):  # fmt: skip
                # the replay writes into the database the store just filled
                database = f"bench_{run}_{name.replace('replay', 'write')}"
                server.create_database(database)
                elapsed = write(server.url, database, points)
                best[name] = min(best.get(name, elapsed), elapsed)
    for name, elapsed in best.items():
        result[f"{name}_points_per_s"] = round(len(points) / elapsed)
    result["store_over_baseline"] = round(best["baseline_post"] / best["store_write"], 3)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
