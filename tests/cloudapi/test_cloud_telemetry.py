"""The telemetry writer: envelopes from Kinesis -> Timestream multi-measure records.

This is the ``liveanalytics`` store; the default InfluxDB store is tested against a
real server in ``test_telemetry_influxdb.py``.

Timestream runs in moto (server mode, in this process, so its stored records can be
inspected). moto appends every record and does not implement Timestream's upsert,
so the idempotency rules themselves are exercised against ``_UpsertingTimestream``,
a few lines that follow the documented semantics: a record is keyed by its
dimensions, measure name and time; the same version with the same values is
accepted again; a lower version, or the same version with other values, is
rejected with the existing version.
"""

from __future__ import annotations

import base64
import contextlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from wardlink.cloudapi.handlers import telemetry_writer
from wardlink.cloudapi.telemetry import InboundEnvelope, TransientStoreError, envelope_to_points
from wardlink.cloudapi.telemetry.influxdb import to_line
from wardlink.cloudapi.telemetry.kinesis import StreamRecord, process_records
from wardlink.cloudapi.telemetry.timestream import TimestreamStore
from wardlink.localcloud import LocalCloud
from wardlink.localcloud.apigw import LocalLambdaContext

NOW = datetime.now(UTC).replace(microsecond=0)


def _telemetry_envelope(gateway: str, first_seq: int, count: int) -> dict[str, Any]:
    return {
        "schema_version": "wardlink.envelope/1",
        "gateway_id": gateway,
        "batch_id": uuid.uuid4().hex,
        "kind": "telemetry",
        "sent_at": NOW.isoformat(),
        "items": [
            {
                "seq": first_seq + i,
                "device_id": "spo2-1",
                "device_model": "Nonin 3150",
                "mdc_code": 150456,
                "mdc_name": "MDC_PULS_OXIM_SAT_O2",
                "value": 90 + i % 10,
                "unit": "%",
                "measured_at": (NOW - timedelta(seconds=count - i)).isoformat(),
                "quality": "valid",
                "flags": ["artifact"] if i % 7 == 0 else [],
            }
            for i in range(count)
        ],
    }


def _kinesis_event(*envelopes: dict[str, Any] | bytes) -> dict[str, Any]:
    records = []
    for n, envelope in enumerate(envelopes, start=1):
        data = envelope if isinstance(envelope, bytes) else json.dumps(envelope).encode()
        records.append({
            "kinesis": {"partitionKey": "gw", "sequenceNumber": f"{n:056d}",
                        "data": base64.b64encode(data).decode()},
            "eventSource": "aws:kinesis",
        })  # fmt: skip
    return {"Records": records}


class _Recording:
    """A Timestream client proxy that records each WriteRecords call."""

    def __init__(self, inner: Any, throttle_first: int = 0) -> None:
        self._inner = inner
        self.calls: list[list[dict[str, Any]]] = []
        self._throttle = throttle_first

    def write_records(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs["Records"])
        if self._throttle > 0:
            self._throttle -= 1
            raise ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "WriteRecords"
            )
        return self._inner.write_records(**kwargs)


class _UpsertingTimestream:
    def __init__(self) -> None:
        self.rows: dict[tuple[Any, ...], tuple[int, Any]] = {}

    def write_records(
        self,
        *,
        DatabaseName: str,
        TableName: str,
        Records: list[dict[str, Any]],
    ) -> dict[str, Any]:
        rejected = []
        for index, record in enumerate(Records):
            key = (
                json.dumps(record["Dimensions"], sort_keys=True),
                record["MeasureName"],
                record["Time"],
            )
            values = json.dumps(record["MeasureValues"], sort_keys=True)
            existing = self.rows.get(key)
            if existing is None or record["Version"] > existing[0]:
                self.rows[key] = (record["Version"], values)
            elif record["Version"] == existing[0] and values == existing[1]:
                continue  # same record again: accepted, nothing changes
            else:
                rejected.append(
                    {
                        "RecordIndex": index,
                        "Reason": "version conflict",
                        "ExistingVersion": existing[0],
                    }
                )
        if rejected:
            raise ClientError(
                {
                    "Error": {"Code": "RejectedRecordsException", "Message": "rejected"},
                    "RejectedRecords": rejected,
                },
                "WriteRecords",
            )
        return {"RecordsIngested": {"Total": len(Records)}}


@pytest.fixture
def timestream(local_cloud: LocalCloud, unique: str) -> tuple[Any, str, str]:
    """(moto client, database, a fresh table) for one test."""
    assert local_cloud.services is not None
    client = local_cloud.services.timestream_write
    database = local_cloud.config.timestream_database
    table = f"t_{unique}"
    with contextlib.suppress(client.exceptions.ConflictException):
        client.create_database(DatabaseName=database)  # the local cloud stores in InfluxDB
    client.create_table(DatabaseName=database, TableName=table)
    return client, database, table


def _stored(database: str, table: str) -> list[dict[str, Any]]:
    from moto.timestreamwrite.models import timestreamwrite_backends

    for regions in timestreamwrite_backends.values():
        for backend in regions.values():
            db = backend.databases.get(database)
            if db is not None and table in db.tables:
                return list(db.tables[table].records)
    raise AssertionError(f"{database}.{table} not in moto")


class _Log:
    def __init__(self) -> None:
        self.errors: list[tuple[str, dict[str, Any]]] = []
        self.warnings: list[str] = []

    def error(self, msg: object, *args: object, **kwargs: Any) -> None:
        self.errors.append((str(msg), kwargs.get("extra", {})))

    def warning(self, msg: object, *args: object, **kwargs: Any) -> None:
        self.warnings.append(str(msg))


def _records(event: dict[str, Any]) -> list[StreamRecord]:
    from wardlink.cloudapi.telemetry.kinesis import records_from_event

    return records_from_event(event)


def test_batches_of_100_multi_measure_version_is_seq(timestream: tuple[Any, str, str]) -> None:
    client, database, table = timestream
    recording = _Recording(client)
    store = TimestreamStore(recording, database, table)
    event = _kinesis_event(
        _telemetry_envelope("gw-a", 1, 120), _telemetry_envelope("gw-a", 121, 130)
    )

    outcome = process_records(_records(event), store, _Log())

    assert [len(call) for call in recording.calls] == [100, 100, 50]
    assert outcome.report.stored == 250 and outcome.lambda_response() == {"batchItemFailures": []}
    stored = _stored(database, table)
    assert len(stored) == 250
    first = stored[0]
    assert first["MeasureValueType"] == "MULTI"
    assert first["MeasureName"] == "MDC_PULS_OXIM_SAT_O2"
    assert first["Version"] == 1
    assert {d["Name"]: d["Value"] for d in first["Dimensions"]} == {
        "gateway_id": "gw-a", "device_id": "spo2-1", "device_model": "Nonin 3150",
        "mdc_code": "150456", "unit": "%",
    }  # fmt: skip
    measures = {m["Name"]: (m["Value"], m["Type"]) for m in first["MeasureValues"]}
    assert measures["value"] == ("90.0", "DOUBLE")
    assert measures["seq"] == ("1", "BIGINT")
    assert measures["flags"] == ("artifact", "VARCHAR")
    assert [r["Version"] for r in stored] == list(range(1, 251))


def test_redelivery_is_idempotent_on_seq(timestream: tuple[Any, str, str]) -> None:
    client, database, table = timestream
    event = _kinesis_event(_telemetry_envelope("gw-b", 500, 30))
    store = TimestreamStore(client, database, table)
    process_records(_records(event), store, _Log())
    process_records(_records(event), store, _Log())
    stored = _stored(database, table)
    assert stored[:30] == stored[30:]  # byte-identical records: an upsert no-op

    upserting = _UpsertingTimestream()
    store = TimestreamStore(upserting, database, table)
    first = process_records(_records(event), store, _Log())
    again = process_records(_records(event), store, _Log())
    assert (first.report.stored, again.report.stored) == (30, 30)
    assert len(upserting.rows) == 30

    # an older copy of a record (lower seq, same key) is a duplicate, not an error
    older = _telemetry_envelope("gw-b", 400, 30)
    stale = process_records(_records(_kinesis_event(older)), store, _Log())
    assert (stale.report.duplicates, stale.report.rejected) == (30, [])


def test_throttling_is_retried_with_backoff_then_handed_back(
    timestream: tuple[Any, str, str],
) -> None:
    client, database, table = timestream
    sleeps: list[float] = []
    recording = _Recording(client, throttle_first=2)
    store = TimestreamStore(recording, database, table, sleep=sleeps.append)
    outcome = process_records(
        _records(_kinesis_event(_telemetry_envelope("gw-c", 1, 10))), store, _Log()
    )
    assert outcome.report.stored == 10
    assert len(recording.calls) == 3 and len(sleeps) == 2

    log = _Log()
    exhausted = _Recording(client, throttle_first=100)
    store = TimestreamStore(exhausted, database, table, max_attempts=3, sleep=lambda s: None)
    event = _kinesis_event(_telemetry_envelope("gw-c", 11, 60), _telemetry_envelope("gw-c", 71, 60))
    outcome = process_records(_records(event), store, log)
    # the first chunk (records 1..100 of 120 points) failed: re-deliver from record 1
    assert outcome.lambda_response() == {"batchItemFailures": [{"itemIdentifier": f"{1:056d}"}]}
    assert log.warnings


def test_transient_error_type() -> None:
    class _Down:
        def write_records(self, **kwargs: Any) -> Any:
            raise ClientError({"Error": {"Code": "InternalServerException"}}, "WriteRecords")

    store = TimestreamStore(_Down(), "db", "t", max_attempts=2, sleep=lambda s: None)
    envelope = InboundEnvelope.parse(_telemetry_envelope("gw", 1, 1))
    with pytest.raises(TransientStoreError):
        store.write(envelope_to_points(envelope)[0])


def test_malformed_records_and_items_are_skipped_not_fatal(
    timestream: tuple[Any, str, str],
) -> None:
    client, database, table = timestream
    good = _telemetry_envelope("gw-d", 1, 3)
    good["items"][1].pop("unit")  # one invalid item
    status = {
        "schema_version": "wardlink.envelope/1", "gateway_id": "gw-d", "batch_id": "s",
        "kind": "status", "sent_at": NOW.isoformat(),
        "items": [{"seq": 10, "device_id": "spo2-1", "at": NOW.isoformat(),
                   "connectivity": "silent", "battery_percent": 12.5, "error_codes": ["E7"]}],
    }  # fmt: skip
    health = {
        "schema_version": "wardlink.envelope/1", "gateway_id": "gw-d", "batch_id": "h",
        "kind": "health", "sent_at": NOW.isoformat(),
        "items": [{"seq": 11, "gateway_id": "gw-d", "at": NOW.isoformat(), "spool_depth": 4,
                   "spool_oldest_age_s": 1.5, "delivered_per_s": 20.0, "evicted_total": 0,
                   "connected_devices": 2, "uptime_s": 3600.0}],
    }  # fmt: skip
    log = _Log()
    event = _kinesis_event(b"not json", good, {"kind": "telemetry"}, status, health)
    outcome = process_records(_records(event), TimestreamStore(client, database, table), log)
    assert (outcome.malformed_records, outcome.invalid_items, outcome.report.stored) == (2, 1, 4)
    assert outcome.lambda_response() == {"batchItemFailures": []}
    assert any(extra.get("seq") == 2 for _, extra in log.errors)
    names = sorted(r["MeasureName"] for r in _stored(database, table))
    assert names == [
        "MDC_PULS_OXIM_SAT_O2",
        "MDC_PULS_OXIM_SAT_O2",
        "device_status",
        "gateway_health",
    ]


def test_lambda_handler_writes_through_the_installed_store(local_cloud: LocalCloud) -> None:
    before = local_cloud.stats().telemetry_records_stored
    response = telemetry_writer.handler(
        _kinesis_event(_telemetry_envelope("gw-e", 1, 5)), LocalLambdaContext("telemetry-writer")
    )
    assert response == {"batchItemFailures": []}
    assert local_cloud.stats().telemetry_records_stored == before + 5


def test_influxdb_line_protocol_shape() -> None:
    envelope = InboundEnvelope.parse(_telemetry_envelope("gw-f", 7, 1))
    [point] = envelope_to_points(envelope)[0]
    line = to_line(point)
    # tags sorted, spaces escaped; fields typed (i = integer); timestamp in ms
    assert line.startswith(
        "MDC_PULS_OXIM_SAT_O2,device_id=spo2-1,device_model=Nonin\\ 3150,gateway_id=gw-f,"
        "mdc_code=150456,unit=% "
    )
    assert ' value=90.0,quality="valid",flags="artifact",seq=7i ' in line
    assert line.endswith(str(point.time_ms))


def test_liveanalytics_reader_query_text_and_rows() -> None:
    """moto has no timestream-query engine: the query text and the decoding only."""
    from wardlink.cloudapi.telemetry.reader import LiveAnalyticsReader, liveanalytics_last_hour

    sql = liveanalytics_last_hour("wardlink_dev_telemetry", "telemetry", "spo2-1", 1000, 3601000)
    assert sql == (
        'SELECT * FROM "wardlink_dev_telemetry"."telemetry" WHERE device_id = \'spo2-1\' '
        "AND time BETWEEN from_milliseconds(1000) AND from_milliseconds(3601000) "
        "ORDER BY time ASC"
    )
    with pytest.raises(ValueError, match="not a device id"):
        liveanalytics_last_hour("db", "t", "x' OR '1'='1", 0, 1)

    page = {
        "ColumnInfo": [{"Name": n} for n in
                       ("gateway_id", "device_id", "unit", "measure_name", "time", "value", "seq")],
        "Rows": [{"Data": [{"ScalarValue": "gw-a"}, {"ScalarValue": "spo2-1"},
                           {"ScalarValue": "%"}, {"ScalarValue": "MDC_PULS_OXIM_SAT_O2"},
                           {"ScalarValue": "2026-12-06 03:04:05.123000000"},
                           {"ScalarValue": "97.0"}, {"NullValue": True}]}],
    }  # fmt: skip

    class _Paginator:
        def paginate(self, QueryString: str) -> list[dict[str, Any]]:
            self.sql = QueryString
            return [page]

    class _Client:
        paginator = _Paginator()

        def get_paginator(self, name: str) -> _Paginator:
            assert name == "query"
            return self.paginator

    client = _Client()
    now = datetime(2026, 12, 6, 3, 30, tzinfo=UTC)
    [row] = LiveAnalyticsReader(client, "db", "t").last_hour("spo2-1", now=now)
    assert "device_id = 'spo2-1'" in client.paginator.sql
    assert row.measure_name == "MDC_PULS_OXIM_SAT_O2"
    assert row.time_ms == int(datetime(2026, 12, 6, 3, 4, 5, tzinfo=UTC).timestamp() * 1000) + 123
    assert row.tags == {"gateway_id": "gw-a", "device_id": "spo2-1", "unit": "%"}
    assert row.fields == {"value": "97.0"}
