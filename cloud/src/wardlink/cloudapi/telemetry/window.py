"""One device's telemetry over a bounded window, a page at a time, for support.

``TelemetryReader.last_hour`` reads a device by its device id alone and returns
every point at once; support names a device by gateway *and* device (ids are only
unique within a gateway), asks for up to a week back and pages through it. This
reads the observations (the measurements that have a numeric ``value``; status,
health and alert points have none) of one ``gateway_id``/``device_id`` between two
instants, oldest first, ``limit`` a page. The cursor is the last sample returned
(time, measurement, MDC code), so a page never repeats or skips a sample, even
when several share a millisecond.

Identifiers are checked against their patterns and quoted as InfluxQL string
literals, times are integers: a request cannot widen or change the query.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from wardlink.cloudapi.telemetry.influxdb import InfluxHTTP, query_results
from wardlink.contract.models import GATEWAY_ID_PATTERN
from wardlink.model.identity import DEVICE_ID_PATTERN

_IDS = {"gateway_id": re.compile(GATEWAY_ID_PATTERN), "device_id": re.compile(DEVICE_ID_PATTERN)}


@dataclass(frozen=True, order=True)
class Cursor:
    """Where a page ended: the sort key of its last sample."""

    time_ms: int
    metric: str = ""
    mdc_code: str = ""


@dataclass(frozen=True)
class Sample:
    time_ms: int
    metric: str
    mdc_code: str
    value: float | None
    unit: str | None
    seq: int | None

    @property
    def cursor(self) -> Cursor:
        return Cursor(self.time_ms, self.metric, self.mdc_code)

    def iso_time(self) -> str:
        moment = datetime.fromtimestamp(self.time_ms / 1000, UTC)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _literal(kind: str, value: str) -> str:
    if not _IDS[kind].match(value):
        raise ValueError(f"not a {kind}: {value!r}")
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def influxql_window(
    gateway_id: str, device_id: str, start_ms: int, stop_ms: int, per_series: int
) -> str:
    """Observations of one device in ``[start_ms, stop_ms]``, ``per_series`` a series."""
    # identifiers validated and quoted by _literal; times and the limit are integers
    return (
        f'SELECT "value", "seq" FROM /.*/ '  # noqa: S608
        f'WHERE "gateway_id" = {_literal("gateway_id", gateway_id)} '
        f'AND "device_id" = {_literal("device_id", device_id)} '
        f"AND time >= {int(start_ms)}ms AND time <= {int(stop_ms)}ms "
        f'GROUP BY "mdc_code", "unit" ORDER BY time ASC LIMIT {int(per_series)}'
    )


class TelemetryWindowReader:
    """Pages through one device's observations in one InfluxDB database."""

    def __init__(self, http: InfluxHTTP, database: str) -> None:
        self._http = http
        self._database = database

    def read(
        self,
        gateway_id: str,
        device_id: str,
        start_ms: int,
        stop_ms: int,
        limit: int,
        after: Cursor | None = None,
    ) -> tuple[list[Sample], Cursor | None]:
        """Up to ``limit`` samples after ``after``; the cursor to go on from, or None."""
        begin = max(start_ms, after.time_ms) if after else start_ms
        # every series can hold at most one sample at the cursor's millisecond, so
        # limit + 1 a series is enough to fill the page and know whether more follow
        query = influxql_window(gateway_id, device_id, begin, stop_ms, limit + 1)
        response = self._http.request(
            "GET", "/query", params={"db": self._database, "q": query, "epoch": "ms"}
        )
        samples: list[Sample] = []
        full_series = False
        for result in query_results(response):
            for series in result.get("series", []):
                values = series.get("values", [])
                full_series = full_series or len(values) > limit
                samples.extend(_samples(series))
        samples = sorted(
            (s for s in samples if after is None or s.cursor > after), key=lambda s: s.cursor
        )
        more = full_series or len(samples) > limit
        page = samples[:limit]
        return page, (page[-1].cursor if more and page else None)


def _samples(series: dict[str, Any]) -> list[Sample]:
    tags = series.get("tags", {})
    if not tags.get("mdc_code"):
        return []  # a status or alert point of the device: not an observation
    columns = series["columns"]
    found = []
    for row in series.get("values", []):
        record = dict(zip(columns, row, strict=True))
        value = record.get("value")
        seq = record.get("seq")
        found.append(
            Sample(
                time_ms=int(record["time"]),
                metric=str(series["name"]),
                mdc_code=str(tags.get("mdc_code", "")),
                value=float(value) if value is not None else None,
                unit=tags.get("unit") or None,
                seq=int(seq) if seq is not None else None,
            )
        )
    return found
