"""The Timestream for InfluxDB path: the same store interface over InfluxDB's write API.

Timestream for LiveAnalytics takes no new customers since 2025-06-20. Accounts
opened after that use Amazon Timestream for InfluxDB, a managed InfluxDB whose
``/api/v2/write`` endpoint takes line protocol. A point maps one to one:

* ``measure_name`` -> measurement, ``dimensions`` -> tags (indexed, low
  cardinality), ``measures`` -> fields, ``time_ms`` -> timestamp (precision ms);
* idempotency: InfluxDB keys a point by measurement, tag set and timestamp, and a
  second write of the same key overwrites the fields. A replay writes identical
  fields, so it is harmless, like Timestream's upsert; ``seq`` is kept as a field.

What is here is the rendering (tested) and a minimal HTTP writer. The writer has
not been run against a live InfluxDB: swapping backends means giving the Lambda
the endpoint, org, bucket and a token (from Secrets Manager) and testing it there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

import urllib3

from wardlink.cloudapi.telemetry.points import MeasureValue, TelemetryPoint
from wardlink.cloudapi.telemetry.store import TransientStoreError, WriteReport


def _escape_key(text: str) -> str:
    return text.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def _field(measure: MeasureValue) -> str:
    if measure.type == "BIGINT":
        return f"{measure.value}i"
    if measure.type in ("DOUBLE", "BOOLEAN"):
        return measure.value
    escaped = measure.value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def to_line(point: TelemetryPoint) -> str:
    """One point in InfluxDB line protocol, millisecond precision."""
    measurement = point.measure_name.replace(",", "\\,").replace(" ", "\\ ")
    tags = "".join(f",{_escape_key(k)}={_escape_key(v)}" for k, v in sorted(point.dimensions))
    fields = ",".join(f"{_escape_key(m.name)}={_field(m)}" for m in point.measures)
    return f"{measurement}{tags} {fields} {point.time_ms}"


class InfluxDBStore:
    """Writes points to an InfluxDB v2-compatible ``/api/v2/write`` endpoint."""

    def __init__(
        self, url: str, org: str, bucket: str, token: str, pool: Any | None = None
    ) -> None:
        query = urlencode({"org": org, "bucket": bucket, "precision": "ms"})
        self._write_url = f"{url.rstrip('/')}/api/v2/write?{query}"
        self._token = token
        self._pool = pool or urllib3.PoolManager(retries=urllib3.Retry(total=3, backoff_factor=0.2))

    def write(self, points: Sequence[TelemetryPoint]) -> WriteReport:
        if not points:
            return WriteReport()
        body = "\n".join(to_line(p) for p in points).encode()
        response = self._pool.request(
            "POST",
            self._write_url,
            body=body,
            headers={
                "Authorization": f"Token {self._token}",
                "Content-Type": "text/plain; charset=utf-8",
            },
        )
        if response.status == 429 or response.status >= 500:
            raise TransientStoreError(f"InfluxDB answered {response.status}")
        if response.status >= 300:
            raise ValueError(f"InfluxDB refused the batch: {response.status} {response.data!r}")
        return WriteReport(stored=len(points))
