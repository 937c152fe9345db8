"""The InfluxDB telemetry store, reader and eraser against a real InfluxDB.

The server is Debian's ``influxd`` 1.x, which serves the v1-compatible ``/write``
and ``/query`` that Timestream for InfluxDB (2.x) serves through its DBRP mapping:
the same requests, the same line protocol and InfluxQL. What 1.x cannot show
(tokens, the 2.x delete API, the set-up of a 2.x instance) is covered in
``test_influxdb_setup.py`` against a fake of the 2.x endpoints.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.influxdb import InfluxDatabase
from tests.support.tcp_proxy import CuttableProxy
from wardlink.cloudapi.telemetry import InboundEnvelope, envelope_to_points
from wardlink.cloudapi.telemetry.erasure import InfluxDBEraser
from wardlink.cloudapi.telemetry.influxdb import (
    MAX_BATCH_LINES,
    InfluxDBError,
    InfluxDBStore,
    InfluxHTTP,
)
from wardlink.cloudapi.telemetry.kinesis import StreamRecord, process_records, records_from_event
from wardlink.cloudapi.telemetry.points import TelemetryPoint
from wardlink.cloudapi.telemetry.reader import InfluxQLReader, influxql_last_hour

NOW = datetime.now(UTC).replace(microsecond=0)


def _envelope(
    gateway: str, first_seq: int, count: int, *, device: str = "spo2-1",
    start: datetime | None = None, step: timedelta = timedelta(seconds=1),
) -> dict[str, Any]:
    begin = start or NOW - step * count
    return {
        "schema_version": "wardlink.envelope/1",
        "gateway_id": gateway,
        "batch_id": uuid.uuid4().hex,
        "kind": "telemetry",
        "sent_at": NOW.isoformat(),
        "items": [
            {
                "seq": first_seq + i,
                "device_id": device,
                "device_model": "Nonin 3150",
                "mdc_code": 150456,
                "mdc_name": "MDC_PULS_OXIM_SAT_O2",
                "value": 90 + i % 10,
                "unit": "%",
                "measured_at": (begin + step * i).isoformat(),
                "quality": "valid",
            }
            for i in range(count)
        ],
    }


def _points(envelope: dict[str, Any]) -> list[TelemetryPoint]:
    return envelope_to_points(InboundEnvelope.parse(envelope))[0]


def _records(*envelopes: dict[str, Any]) -> list[StreamRecord]:
    event = {"Records": [
        {"kinesis": {"partitionKey": "gw", "sequenceNumber": f"{n:056d}",
                     "data": base64.b64encode(json.dumps(e).encode()).decode()}}
        for n, e in enumerate(envelopes, start=1)
    ]}  # fmt: skip
    return records_from_event(event)


class _Log:
    def __init__(self) -> None:
        self.errors: list[tuple[str, dict[str, Any]]] = []
        self.warnings: list[str] = []

    def error(self, msg: object, *args: object, **kwargs: Any) -> None:
        self.errors.append((str(msg), kwargs.get("extra", {})))

    def warning(self, msg: object, *args: object, **kwargs: Any) -> None:
        self.warnings.append(str(msg))


def _count(db: InfluxDatabase, where: str = "") -> int:
    series = InfluxQLReader(db.http(), db.name).query(f"SELECT COUNT(seq) FROM /.*/ {where}")
    return sum(int(s["values"][0][1]) for s in series)


def _store(db: InfluxDatabase, **kwargs: Any) -> InfluxDBStore:
    return InfluxDBStore(db.http(token="ignored-by-1.x"), db.name, sleep=lambda s: None, **kwargs)


def test_a_replayed_envelope_overwrites_its_points(influx_db: InfluxDatabase) -> None:
    store = _store(influx_db)
    records = _records(
        _envelope("gw-a", 1, 150, start=NOW - timedelta(minutes=10)), _envelope("gw-a", 151, 50)
    )
    first = process_records(records, store, _Log())
    again = process_records(records, store, _Log())  # Kinesis delivers at least once
    assert (first.report.stored, again.report.stored) == (200, 200)
    assert _count(influx_db) == 200
    [series] = InfluxQLReader(influx_db.http(), influx_db.name).query(
        'SELECT * FROM "MDC_PULS_OXIM_SAT_O2" WHERE seq = 151 GROUP BY *'
    )
    assert series["tags"] == {"device_id": "spo2-1", "device_model": "Nonin 3150",
                              "gateway_id": "gw-a", "mdc_code": "150456", "unit": "%"}
    row = dict(zip(series["columns"], series["values"][0], strict=True))
    assert (row["value"], row["quality"]) == (90.0, "valid")


def test_out_of_order_and_week_old_points_are_kept(influx_db: InfluxDatabase) -> None:
    store = _store(influx_db)
    recent = _points(_envelope("gw-b", 100, 20))
    week_old = _points(_envelope("gw-b", 1, 20, start=NOW - timedelta(days=7, hours=1)))
    report = store.write(list(reversed(recent)))  # newest first
    late = store.write(week_old)  # a gateway drains an old spool after a week offline
    assert (report.stored, late.stored, report.rejected, late.rejected) == (20, 20, [], [])
    assert _count(influx_db) == 40
    assert _count(influx_db, f"WHERE time < '{(NOW - timedelta(days=7)).isoformat()}'") == 20


def test_a_batch_at_the_size_limit_is_one_request(influx_db: InfluxDatabase) -> None:
    points = _points(
        _envelope("gw-c", 1, 10_000, start=NOW - timedelta(hours=3), step=timedelta(seconds=1))
    )[: MAX_BATCH_LINES + 1]
    at_limit = _store(influx_db)
    assert at_limit.write(points[:MAX_BATCH_LINES]).stored == MAX_BATCH_LINES
    assert at_limit.requests == 1
    over = _store(influx_db)
    assert over.write(points).stored == MAX_BATCH_LINES + 1
    assert over.requests == 2
    small = _store(influx_db, max_batch_bytes=10_000)  # the byte limit splits too
    assert small.write(points[:200]).stored == 200 and small.requests > 1
    assert _count(influx_db) == MAX_BATCH_LINES + 1


def test_server_down_and_back_loses_nothing(influx_db: InfluxDatabase) -> None:
    port = int(influx_db.url.rsplit(":", 1)[1])
    proxy = CuttableProxy(port)
    proxy.start()
    try:
        http = InfluxHTTP(f"http://127.0.0.1:{proxy.port}")
        sleeps: list[float] = []

        def back_after_two_waits(seconds: float) -> None:
            sleeps.append(seconds)
            if len(sleeps) == 2:
                proxy.restore()

        proxy.cut(refuse=True)
        store = InfluxDBStore(http, influx_db.name, sleep=back_after_two_waits)
        assert store.write(_points(_envelope("gw-d", 1, 30))).stored == 30
        assert store.requests == 3 and len(sleeps) == 2

        # down for longer than the retries: the batch goes back to Kinesis...
        proxy.cut(refuse=True)
        log = _Log()
        records = _records(
            _envelope("gw-d", 31, 30, start=NOW - timedelta(minutes=5)),
            _envelope("gw-d", 61, 30, start=NOW - timedelta(minutes=4)),
        )
        patient = InfluxDBStore(http, influx_db.name, max_attempts=3, sleep=lambda s: None)
        outcome = process_records(records, patient, log)
        assert outcome.lambda_response() == {"batchItemFailures": [{"itemIdentifier": f"{1:056d}"}]}
        assert log.warnings
        # ...and Kinesis re-delivers it once the server is back
        proxy.restore()
        again = process_records(records, patient, _Log())
        assert again.report.stored == 60 and again.failed_from is None
    finally:
        proxy.stop()
    assert _count(influx_db) == 90


def test_a_refused_point_is_reported_and_the_rest_stored(influx_db: InfluxDatabase) -> None:
    store = _store(influx_db)
    points = _points(_envelope("gw-e", 1, 9))
    bad = points[4]
    # a field type conflict: 'value' is a float in this measurement, here a string
    conflicting = TelemetryPoint(
        bad.measure_name, bad.time_ms + 1, bad.dimensions,
        tuple(type(m)(m.name, "x", "VARCHAR") if m.name == "value" else m for m in bad.measures),
        bad.version,
    )
    store.write(points[:1])
    report = store.write([*points[1:4], conflicting, *points[4:]])
    assert report.stored == 8
    [rejected] = report.rejected
    assert rejected.point == conflicting and "conflict" in rejected.reason
    assert _count(influx_db) == 9


def test_a_missing_database_is_an_error_not_a_drop(influx_db: InfluxDatabase) -> None:
    store = InfluxDBStore(influx_db.http(), "no_such_database", sleep=lambda s: None)
    with pytest.raises(InfluxDBError, match="404"):
        store.write(_points(_envelope("gw-f", 1, 1)))


def test_last_hour_of_one_device(influx_db: InfluxDatabase) -> None:
    store = _store(influx_db)
    store.write(_points(_envelope("gw-g", 1, 5, device="spo2-1", start=NOW - timedelta(hours=2))))
    store.write(_points(_envelope("gw-g", 10, 5, device="spo2-1",
                                  start=NOW - timedelta(minutes=30))))
    store.write(_points(_envelope("gw-g", 20, 5, device="spo2-2",
                                  start=NOW - timedelta(minutes=30))))
    reader = InfluxQLReader(influx_db.http(), influx_db.name)
    rows = reader.last_hour("spo2-1", now=NOW)
    assert [int(r.fields["seq"]) for r in rows] == [10, 11, 12, 13, 14]
    first = rows[0]
    assert first.measure_name == "MDC_PULS_OXIM_SAT_O2"
    assert first.time_ms == int((NOW - timedelta(minutes=30)).timestamp() * 1000)
    assert first.tags["device_id"] == "spo2-1" and first.tags["gateway_id"] == "gw-g"
    assert first.fields["value"] == 90.0 and "device_id" not in first.fields
    assert reader.last_hour("spo2-9", now=NOW) == []


def test_a_device_id_cannot_change_the_query() -> None:
    with pytest.raises(ValueError, match="not a device id"):
        influxql_last_hour("x' OR device_id =~ /.*/ --", 0, 1)
    assert "\"device_id\" = 'spo2-1' AND time >= 0ms AND time <= 1ms GROUP BY *" in (
        influxql_last_hour("spo2-1", 0, 1)
    )


def test_erasure_by_device_and_by_episode(influx_db: InfluxDatabase) -> None:
    store = _store(influx_db)
    store.write(_points(_envelope("gw-h", 1, 10, device="forget-me")))
    store.write(_points(_envelope("gw-h", 20, 10, device="keep-me",
                                  start=NOW - timedelta(minutes=40), step=timedelta(minutes=1))))
    eraser = InfluxDBEraser(influx_db.http(), api="v1", database=influx_db.name)

    eraser.erase_device("forget-me")
    assert _count(influx_db, "WHERE device_id = 'forget-me'") == 0
    # one episode: the device's points inside [start, stop) only
    eraser.erase_device("keep-me", start=NOW - timedelta(minutes=40),
                        stop=NOW - timedelta(minutes=35))
    remaining = InfluxQLReader(influx_db.http(), influx_db.name).last_hour("keep-me", now=NOW)
    assert [int(r.fields["seq"]) for r in remaining] == list(range(25, 30))
    with pytest.raises(ValueError):
        eraser.erase_device("a' OR 1=1")
