"""The InfluxDB telemetry store: line protocol over the v1-compatible ``/write``.

Timestream for LiveAnalytics takes no new customers since 2025-06-20, so the
default store is Amazon Timestream for InfluxDB (InfluxDB 2.x). The writer talks to
it through the v1-compatible API that 2.x serves through a DBRP mapping (database
= the bucket's name, retention policy ``autogen``): ``/write`` takes line protocol,
and the same code runs unchanged against Debian's ``influxdb`` 1.x, which serves
that API natively, so the write path is tested against a real server.

* A point maps one to one: ``measure_name`` -> measurement, ``dimensions`` -> tags,
  ``measures`` -> fields, ``time_ms`` -> timestamp (precision ms).
* Idempotent: InfluxDB keys a point by measurement, tag set and timestamp, and a
  second write of the same key overwrites its fields. A replayed envelope renders
  identical lines (``seq`` is kept as a field), so a replay changes nothing and
  never duplicates a point. InfluxDB does not say whether a key existed, so
  replays are counted as ``stored``, not ``duplicates``.
* Late data is accepted: InfluxDB takes points in any order and of any age inside
  the bucket's retention.
* Batches of at most 5,000 lines and 4 MiB (Timestream for InfluxDB's guidance is
  5,000 lines a request). Throttling (429), server errors and connection failures
  are retried with exponential back-off and full jitter; when the retries run out
  the batch raises ``TransientStoreError`` and the Kinesis consumer hands the
  records back, so nothing is lost while the server is down.
* A batch refused as bad input (400, 413, 422) is split in halves until the
  refused lines are found alone: those come back in ``WriteReport.rejected`` for
  the writer to report, the others are stored (rewriting lines that a partial
  write already stored is harmless, see above).
* Authentication: ``Authorization: Token`` (2.x; 1.x ignores it with auth off).
  A 401/403 asks the token source for a fresh token once (the token is rotated in
  Secrets Manager); if that fails too, or the database does not exist (404), the
  deployment is wrong: ``InfluxDBError`` is raised and the batch is not dropped.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

import urllib3

from wardlink.cloudapi.telemetry.points import MeasureValue, TelemetryPoint
from wardlink.cloudapi.telemetry.store import RejectedPoint, TransientStoreError, WriteReport
from wardlink.model.errors import WardlinkError

MAX_BATCH_LINES = 5000
MAX_BATCH_BYTES = 4 * 1024 * 1024
_RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_REJECTED_STATUS = frozenset({400, 413, 422})

#: Called with ``refresh=True`` after the server refused the current token.
TokenSource = Callable[[bool], str | None]


class InfluxDBError(WardlinkError):
    """The server refused us for a reason retrying cannot fix (auth, missing database)."""


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


def static_token(token: str | None) -> TokenSource:
    """A token source that always gives ``token`` (None: send no Authorization header)."""
    return lambda refresh: token


class InfluxHTTP:
    """The HTTP side shared by the store, the reader and the eraser: one pool, the
    token header, one token refresh on 401/403. Transport errors propagate."""

    def __init__(
        self,
        url: str,
        *,
        token: TokenSource | str | None = None,
        pool: urllib3.PoolManager | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.url = url.rstrip("/")
        self._token: TokenSource = token if callable(token) else static_token(token)
        self._pool = pool or urllib3.PoolManager(
            retries=False, timeout=urllib3.Timeout(connect=3.0, read=timeout_s)
        )

    def _headers(self, extra: Mapping[str, str], refresh: bool) -> dict[str, str]:
        headers = dict(extra)
        token = self._token(refresh)
        if token:
            headers["Authorization"] = f"Token {token}"
        return headers

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> urllib3.BaseHTTPResponse:
        url = f"{self.url}{path}"
        if params:
            url = f"{url}?{urlencode(dict(params))}"
        response = self._pool.request(
            method, url, body=body, headers=self._headers(headers or {}, False)
        )
        if response.status in (401, 403):
            response = self._pool.request(
                method, url, body=body, headers=self._headers(headers or {}, True)
            )
        return response


def _reason(response: urllib3.BaseHTTPResponse) -> str:
    text = response.data.decode(errors="replace").strip()
    return f"{response.status} {text[:500]}"


class InfluxDBStore:
    """Writes points to one database (2.x: the DBRP-mapped bucket) over ``/write``."""

    def __init__(
        self,
        http: InfluxHTTP,
        database: str,
        *,
        retention_policy: str | None = None,
        max_batch_lines: int = MAX_BATCH_LINES,
        max_batch_bytes: int = MAX_BATCH_BYTES,
        max_attempts: int = 6,
        base_delay_s: float = 0.1,
        max_delay_s: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self._http = http
        self._params = {"db": database, "precision": "ms"}
        if retention_policy:
            self._params["rp"] = retention_policy
        self.preferred_batch = max_batch_lines
        self._max_lines = max_batch_lines
        self._max_bytes = max_batch_bytes
        self._max_attempts = max_attempts
        self._base_delay_s = base_delay_s
        self._max_delay_s = max_delay_s
        self._sleep = sleep
        self._rng = rng or random.Random()  # jitter only, not security relevant
        self.requests = 0  # write requests sent, for tests and benchmarks

    def write(self, points: Sequence[TelemetryPoint]) -> WriteReport:
        report = WriteReport()
        lines = [(point, to_line(point).encode()) for point in points]
        for batch in self._batches(lines):
            report.merge(self._write_batch(batch))
        return report

    def _batches(
        self, lines: list[tuple[TelemetryPoint, bytes]]
    ) -> Iterator[list[tuple[TelemetryPoint, bytes]]]:
        batch: list[tuple[TelemetryPoint, bytes]] = []
        size = 0
        for entry in lines:
            cost = len(entry[1]) + 1
            if batch and (len(batch) >= self._max_lines or size + cost > self._max_bytes):
                yield batch
                batch, size = [], 0
            batch.append(entry)
            size += cost
        if batch:
            yield batch

    def _write_batch(self, batch: list[tuple[TelemetryPoint, bytes]]) -> WriteReport:
        response = self._send(b"\n".join(line for _, line in batch))
        if response is None:
            return WriteReport(stored=len(batch))
        if len(batch) == 1:
            return WriteReport(rejected=[RejectedPoint(batch[0][0], response)])
        middle = len(batch) // 2
        report = self._write_batch(batch[:middle])
        report.merge(self._write_batch(batch[middle:]))
        return report

    def _send(self, body: bytes) -> str | None:
        """None when stored; the server's reason when it refused the lines as bad input."""
        last = ""
        for attempt in range(1, self._max_attempts + 1):
            self.requests += 1
            try:
                response = self._http.request(
                    "POST",
                    "/write",
                    params=self._params,
                    body=body,
                    headers={"Content-Type": "text/plain; charset=utf-8"},
                )
            except urllib3.exceptions.HTTPError as exc:  # refused, reset, timed out
                last = f"{type(exc).__name__}: {exc}"
            else:
                if response.status in (200, 204):
                    return None
                if response.status in _REJECTED_STATUS:
                    return _reason(response)
                if response.status not in _RETRYABLE_STATUS:
                    raise InfluxDBError(f"InfluxDB refused the write: {_reason(response)}")
                last = _reason(response)
            if attempt < self._max_attempts:
                self._sleep(self._backoff(attempt))
        raise TransientStoreError(
            f"InfluxDB did not take a batch after {self._max_attempts} attempts: {last}"
        )

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self._max_delay_s, self._base_delay_s * 2 ** (attempt - 1))
        return self._rng.uniform(0, ceiling)


def query_results(response: urllib3.BaseHTTPResponse) -> list[dict[str, Any]]:
    """The ``results`` of a ``/query`` answer; an error anywhere raises ``InfluxDBError``."""
    if response.status != 200:
        raise InfluxDBError(f"InfluxDB refused the query: {_reason(response)}")
    payload = response.json()
    if "error" in payload:
        raise InfluxDBError(f"InfluxDB query failed: {payload['error']}")
    results: list[dict[str, Any]] = payload.get("results", [])
    for result in results:
        if "error" in result:
            raise InfluxDBError(f"InfluxDB statement failed: {result['error']}")
    return results
