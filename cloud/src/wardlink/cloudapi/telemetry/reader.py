"""Reading telemetry back: a device's last hour, on either store.

The support telemetry API (to come) needs recent points for one device. Both
stores answer the same question through ``TelemetryReader``:

* InfluxDB (Timestream for InfluxDB 2.x, or Debian's 1.x locally): InfluxQL over
  the v1-compatible ``/query``, ``GROUP BY *`` so that tags and fields come apart;
* Timestream for LiveAnalytics: SQL through ``timestream-query`` (moto has no
  query engine, so that side is covered by a test of the query text and of the
  row decoding, not against a server).

A device id is checked against the model's pattern before it goes into a query,
and quoted as a string literal, so a request cannot widen or change the query.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from wardlink.cloudapi.telemetry.influxdb import InfluxHTTP, query_results
from wardlink.model.identity import DEVICE_ID_PATTERN

LAST_HOUR = timedelta(hours=1)
#: The point dimensions (``wardlink.cloudapi.telemetry.points``): tags in InfluxDB.
DIMENSIONS = frozenset({"gateway_id", "device_id", "device_model", "mdc_code", "unit"})
_DEVICE_ID = re.compile(DEVICE_ID_PATTERN)


@dataclass(frozen=True)
class TelemetryRow:
    """One stored point: what the writer wrote, as the store gives it back."""

    measure_name: str
    time_ms: int
    tags: dict[str, str] = field(default_factory=dict)
    fields: dict[str, Any] = field(default_factory=dict)


class TelemetryReader(Protocol):
    def last_hour(self, device_id: str, *, now: datetime | None = None) -> list[TelemetryRow]:
        """The device's points of the hour before ``now`` (default: the clock), oldest first."""
        ...


def _device_literal(device_id: str) -> str:
    if not _DEVICE_ID.match(device_id):
        raise ValueError(f"not a device id: {device_id!r}")
    return "'" + device_id.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _window(now: datetime | None) -> tuple[int, int]:
    end = now or datetime.now(UTC)
    if end.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return int((end - LAST_HOUR).timestamp() * 1000), int(end.timestamp() * 1000)


def influxql_last_hour(device_id: str, start_ms: int, stop_ms: int) -> str:
    """The InfluxQL of :meth:`InfluxQLReader.last_hour` (times in ms, end inclusive)."""
    # the device id is validated and quoted by _device_literal; times are integers
    return (
        f'SELECT * FROM /.*/ WHERE "device_id" = {_device_literal(device_id)} '  # noqa: S608
        f"AND time >= {start_ms}ms AND time <= {stop_ms}ms GROUP BY *"
    )


class InfluxQLReader:
    """Reads from one InfluxDB database (2.x: the DBRP-mapped bucket) over ``/query``."""

    def __init__(self, http: InfluxHTTP, database: str) -> None:
        self._http = http
        self._database = database

    def query(self, influxql: str) -> list[dict[str, Any]]:
        """Run read-only InfluxQL; the ``series`` of every statement, flattened."""
        response = self._http.request(
            "GET", "/query", params={"db": self._database, "q": influxql, "epoch": "ms"}
        )
        return [s for result in query_results(response) for s in result.get("series", [])]

    def last_hour(self, device_id: str, *, now: datetime | None = None) -> list[TelemetryRow]:
        start_ms, stop_ms = _window(now)
        rows: list[TelemetryRow] = []
        for series in self.query(influxql_last_hour(device_id, start_ms, stop_ms)):
            tags = {k: v for k, v in series.get("tags", {}).items() if v != ""}
            columns = series["columns"]
            for values in series.get("values", []):
                record = dict(zip(columns, values, strict=True))
                time_ms = int(record.pop("time"))
                fields = {k: v for k, v in record.items() if v is not None}
                rows.append(TelemetryRow(series["name"], time_ms, tags, fields))
        rows.sort(key=lambda row: (row.time_ms, row.measure_name))
        return rows


def liveanalytics_last_hour(
    database: str, table: str, device_id: str, start_ms: int, stop_ms: int
) -> str:
    """The Timestream SQL of :meth:`LiveAnalyticsReader.last_hour`."""
    # names come from the deployment, the device id through _device_literal
    return (
        f'SELECT * FROM "{database}"."{table}" '  # noqa: S608
        f"WHERE device_id = {_device_literal(device_id)} "
        f"AND time BETWEEN from_milliseconds({start_ms}) AND from_milliseconds({stop_ms}) "
        "ORDER BY time ASC"
    )


class LiveAnalyticsReader:
    """Reads from the LiveAnalytics table through a ``timestream-query`` client."""

    def __init__(self, client: Any, database: str, table: str) -> None:
        self._client = client
        self._database = database
        self._table = table

    def last_hour(self, device_id: str, *, now: datetime | None = None) -> list[TelemetryRow]:
        start_ms, stop_ms = _window(now)
        sql = liveanalytics_last_hour(self._database, self._table, device_id, start_ms, stop_ms)
        rows: list[TelemetryRow] = []
        for page in self._client.get_paginator("query").paginate(QueryString=sql):
            rows.extend(decode_timestream_rows(page))
        return rows


def _timestream_time_ms(text: str) -> int:
    # "2026-12-06 03:04:05.123000000": nanosecond text, UTC
    whole, _, fraction = text.partition(".")
    moment = datetime.strptime(whole, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000) + int((fraction + "000")[:3])


def decode_timestream_rows(page: dict[str, Any]) -> list[TelemetryRow]:
    """Rows of one ``Query`` answer page (multi-measure records) as ``TelemetryRow``s."""
    names = [column["Name"] for column in page["ColumnInfo"]]
    rows = []
    for row in page.get("Rows", []):
        record: dict[str, Any] = {}
        for name, datum in zip(names, row["Data"], strict=True):
            if not datum.get("NullValue"):
                record[name] = datum.get("ScalarValue")
        rows.append(
            TelemetryRow(
                measure_name=str(record.pop("measure_name")),
                time_ms=_timestream_time_ms(str(record.pop("time"))),
                tags={k: v for k, v in record.items() if k in DIMENSIONS},
                fields={k: v for k, v in record.items() if k not in DIMENSIONS},
            )
        )
    return rows
