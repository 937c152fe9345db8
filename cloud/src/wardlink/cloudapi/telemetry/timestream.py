"""Timestream for LiveAnalytics backend of the telemetry store.

* Multi-measure records, ``WriteRecords`` batches of at most 100 (the API limit).
* ``Version`` = the item's ``seq``: Timestream upserts, so re-sending a record with
  the same version and values is accepted as a no-op, and a record that is
  rejected because the table already holds an equal or newer version is a replay,
  counted as a duplicate rather than an error.
* Throttling and server errors are retried here with exponential backoff and full
  jitter; the boto3 client should be built with SDK retries off (``max_attempts``
  1) so the two policies do not multiply. If the retries run out the batch raises
  ``TransientStoreError`` and the Kinesis consumer hands the records back.
* Other rejections (e.g. a timestamp outside the memory-store window) are final:
  they come back in ``WriteReport.rejected`` for the caller to log and count.

Timestream for LiveAnalytics is closed to new customers since 2025-06-20; see
``influxdb`` for the path for newer accounts.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from typing import Any

from botocore.exceptions import ClientError, ReadTimeoutError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from wardlink.cloudapi.telemetry.points import TelemetryPoint
from wardlink.cloudapi.telemetry.store import RejectedPoint, TransientStoreError, WriteReport

BATCH_SIZE = 100
_RETRYABLE = {
    "ThrottlingException",
    "InternalServerException",
    "ServiceUnavailableException",
    "RequestTimeout",
}


def to_record(point: TelemetryPoint) -> dict[str, Any]:
    """A ``WriteRecords`` record for one point."""
    return {
        "Dimensions": [
            {"Name": name, "Value": value, "DimensionValueType": "VARCHAR"}
            for name, value in point.dimensions
        ],
        "MeasureName": point.measure_name,
        "MeasureValueType": "MULTI",
        "MeasureValues": [
            {"Name": m.name, "Value": m.value, "Type": m.type} for m in point.measures
        ],
        "Time": str(point.time_ms),
        "TimeUnit": "MILLISECONDS",
        "Version": point.version,
    }


class TimestreamStore:
    """Writes points to one Timestream table."""

    def __init__(
        self,
        client: Any,
        database: str,
        table: str,
        *,
        max_attempts: int = 6,
        base_delay_s: float = 0.1,
        max_delay_s: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self._client = client
        self._database = database
        self._table = table
        self._max_attempts = max_attempts
        self._base_delay_s = base_delay_s
        self._max_delay_s = max_delay_s
        self._sleep = sleep
        self._rng = rng or random.Random()  # jitter only, not security relevant
        self.calls = 0  # WriteRecords requests sent, for tests and benchmarks

    def write(self, points: Sequence[TelemetryPoint]) -> WriteReport:
        report = WriteReport()
        for start in range(0, len(points), BATCH_SIZE):
            report.merge(self._write_batch(points[start : start + BATCH_SIZE]))
        return report

    def _write_batch(self, batch: Sequence[TelemetryPoint]) -> WriteReport:
        records = [to_record(p) for p in batch]
        for attempt in range(1, self._max_attempts + 1):
            try:
                self.calls += 1
                self._client.write_records(
                    DatabaseName=self._database, TableName=self._table, Records=records
                )
                return WriteReport(stored=len(batch))
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if code == "RejectedRecordsException":
                    return _rejections(batch, exc.response.get("RejectedRecords", []))
                if code not in _RETRYABLE:
                    raise
                last: Exception = exc
            except (BotocoreConnectionError, ReadTimeoutError) as exc:
                last = exc
            if attempt < self._max_attempts:
                self._sleep(self._backoff(attempt))
        raise TransientStoreError(
            f"Timestream did not accept a batch of {len(batch)} after "
            f"{self._max_attempts} attempts: {last}"
        )

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self._max_delay_s, self._base_delay_s * 2 ** (attempt - 1))
        return self._rng.uniform(0, ceiling)


def _rejections(batch: Sequence[TelemetryPoint], rejected: list[dict[str, Any]]) -> WriteReport:
    """Split a partially rejected batch: the records not listed were written."""
    report = WriteReport()
    refused: set[int] = set()
    for entry in rejected:
        index = int(entry.get("RecordIndex", -1))
        if not 0 <= index < len(batch):
            continue
        refused.add(index)
        point = batch[index]
        existing = entry.get("ExistingVersion")
        if existing is not None and int(existing) >= point.version:
            report.duplicates += 1
        else:
            report.rejected.append(RejectedPoint(point, str(entry.get("Reason", "rejected"))))
    report.stored = len(batch) - len(refused)
    return report
