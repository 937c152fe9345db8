"""Run a Kinesis batch (from the IoT rule) through a telemetry store.

Each stream record carries one MQTT message: the envelope, as the IoT rule
``SELECT *, topic(3) AS gateway_id FROM 'wardlink/v1/+/+'`` emits it (the topic's
gateway id overrides the payload's, and the gateway IoT policy only lets a thing
publish under its own name). Points from all records are written together in
store batches, in stream order: 100 (Timestream's ``WriteRecords`` limit), or the
store's ``preferred_batch`` if it has one (InfluxDB takes 5,000 lines a request).

Failure handling follows Lambda's Kinesis checkpointing (``ReportBatchItemFailures``):

* a record that is not an envelope, or items that are not valid, can never succeed:
  they are logged with their sequence number and skipped, so one bad message does
  not stall the shard;
* points the store rejects for good are logged and skipped for the same reason;
* if the store is throttled past its retries, the first record with an unwritten
  point is reported as the batch item failure, and Lambda re-delivers from there.
  Re-delivered points are byte-identical (``Version`` = ``seq``), so this is safe.

The outcome also says, per gateway, the highest ``seq`` of the records handled for
good (stored, or skipped as unstorable): the handler records it as the gateway's
last acknowledged ``seq`` (``GET /gateways/{id}/sequence``).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from wardlink.cloudapi.telemetry.points import (
    InboundEnvelope,
    MalformedEnvelopeError,
    TelemetryPoint,
    envelope_to_points,
)
from wardlink.cloudapi.telemetry.store import TelemetryStore, TransientStoreError, WriteReport

STORE_BATCH = 100


class _Log(Protocol):
    def error(self, msg: object, *args: object, **kwargs: Any) -> None: ...

    def warning(self, msg: object, *args: object, **kwargs: Any) -> None: ...


@dataclass(frozen=True)
class StreamRecord:
    """The parts of a Kinesis record the writer uses."""

    sequence_number: str
    partition_key: str
    data: bytes


@dataclass
class BatchOutcome:
    report: WriteReport = field(default_factory=WriteReport)
    malformed_records: int = 0
    invalid_items: int = 0
    failed_from: str | None = None  # first sequence number to re-deliver
    highest_seq: dict[str, int] = field(default_factory=dict)
    """Per gateway, the highest ``seq`` in the records before ``failed_from``."""
    last_seen_ms: dict[str, int] = field(default_factory=dict)
    """Per device uid (``gateway/device``), its newest stored point before ``failed_from``."""

    def lambda_response(self) -> dict[str, list[dict[str, str]]]:
        failures = [{"itemIdentifier": self.failed_from}] if self.failed_from else []
        return {"batchItemFailures": failures}


def records_from_event(event: dict[str, Any]) -> list[StreamRecord]:
    """Kinesis event (Lambda event source mapping shape) -> stream records."""
    records = []
    for raw in event.get("Records", []):
        kinesis = raw.get("kinesis", {})
        try:
            data = base64.b64decode(kinesis.get("data", ""), validate=True)
        except (binascii.Error, ValueError):
            data = b""
        records.append(
            StreamRecord(
                sequence_number=str(kinesis.get("sequenceNumber", "")),
                partition_key=str(kinesis.get("partitionKey", "")),
                data=data,
            )
        )
    return records


def process_records(
    records: Sequence[StreamRecord], store: TelemetryStore, log: _Log
) -> BatchOutcome:
    outcome = BatchOutcome()
    pending: list[tuple[int, TelemetryPoint]] = []
    seqs: list[tuple[int, str, int]] = []  # (record index, gateway, highest item seq)
    for index, record in enumerate(records):
        try:
            envelope = InboundEnvelope.parse(record.data)
        except MalformedEnvelopeError as exc:
            outcome.malformed_records += 1
            log.error(
                "dropping a stream record that is not an envelope",
                extra={"sequence_number": record.sequence_number, "reason": str(exc)[:500]},
            )
            continue
        item_seqs = [raw["seq"] for raw in envelope.items if type(raw.get("seq")) is int]
        if item_seqs:
            seqs.append((index, envelope.gateway_id, max(item_seqs)))
        points, problems = envelope_to_points(envelope)
        for problem in problems:
            outcome.invalid_items += 1
            log.error(
                "dropping an invalid envelope item",
                extra={
                    "sequence_number": record.sequence_number,
                    "gateway_id": envelope.gateway_id,
                    "seq": problem.seq,
                    "reason": problem.reason[:500],
                },
            )
        pending.extend((index, point) for point in points)

    handled = len(records)  # records before the first one Lambda must re-deliver
    size = int(getattr(store, "preferred_batch", STORE_BATCH))
    for start in range(0, len(pending), size):
        chunk = pending[start : start + size]
        try:
            report = store.write([point for _, point in chunk])
        except TransientStoreError as exc:
            handled = chunk[0][0]
            outcome.failed_from = records[handled].sequence_number
            log.warning(
                "store throttled past its retries; handing records back to Kinesis",
                extra={"from_sequence_number": outcome.failed_from, "reason": str(exc)},
            )
            break
        for rejected in report.rejected:
            log.error(
                "store rejected a point for good",
                extra={
                    "measure_name": rejected.point.measure_name,
                    "gateway_id": rejected.point.dimension("gateway_id"),
                    "device_id": rejected.point.dimension("device_id"),
                    "seq": rejected.point.version,
                    "reason": rejected.reason[:500],
                },
            )
        outcome.report.merge(report)
    for index, gateway_id, seq in seqs:
        if index < handled and seq > outcome.highest_seq.get(gateway_id, 0):
            outcome.highest_seq[gateway_id] = seq
    for index, point in pending:
        gateway, device = point.dimension("gateway_id"), point.dimension("device_id")
        if index < handled and gateway and device:
            uid = f"{gateway}/{device}"
            outcome.last_seen_ms[uid] = max(point.time_ms, outcome.last_seen_ms.get(uid, 0))
    return outcome
