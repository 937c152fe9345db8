"""Lambda ``telemetry_writer``: Kinesis (from the IoT rules) -> the telemetry store.

The event source mapping must enable ``ReportBatchItemFailures``: the response
names the first record to re-deliver when the store stayed unavailable past the
writer's retries (see ``wardlink.cloudapi.telemetry.kinesis``).

After each batch the writer raises each gateway's last acknowledged ``seq`` in the
Gateways table (``GET /gateways/{id}/sequence``); a failure there is logged, never
fails the batch: the telemetry matters more than the bookkeeping.

The store is chosen once per container from ``TELEMETRY_STORE``: ``influxdb``
(Timestream for InfluxDB, the default: ``INFLUXDB_URL``, ``INFLUXDB_DATABASE`` and
the token from the Secrets Manager secret ``INFLUXDB_TOKEN_SECRET_ARN``, re-read
when the server refuses it after a rotation) or ``liveanalytics`` (Timestream
``TIMESTREAM_DATABASE``/``TIMESTREAM_TABLE``). Points a store refuses for good are
logged and written as JSON lines under ``telemetry-rejected/`` in the data bucket,
so they are kept, not lost. ``use_store`` lets the local cloud (and the tests) run
this same handler against their own store.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config
from botocore.exceptions import ClientError

from wardlink.cloudapi.handlers.common import logger, tracer
from wardlink.cloudapi.repositories import GatewayRepository
from wardlink.cloudapi.services import Services, get_services
from wardlink.cloudapi.telemetry.influxdb import InfluxDBStore, InfluxHTTP, TokenSource
from wardlink.cloudapi.telemetry.kinesis import process_records, records_from_event
from wardlink.cloudapi.telemetry.store import RejectedPoint, TelemetryStore
from wardlink.cloudapi.telemetry.timestream import TimestreamStore

REJECTED_PREFIX = "telemetry-rejected/"
STORES = ("influxdb", "liveanalytics")

_store: TelemetryStore | None = None
_store_lock = threading.Lock()


def secret_token(services: Services, secret_arn: str) -> TokenSource:
    """The InfluxDB token from a Secrets Manager secret (JSON ``{"token": ...}``),
    cached, and read again when the server refused it (rotated meanwhile)."""
    cached: list[str] = []
    lock = threading.Lock()

    def token(refresh: bool) -> str:
        with lock:
            if refresh or not cached:
                value = services.client("secretsmanager").get_secret_value(
                    SecretId=secret_arn, VersionStage="AWSCURRENT"
                )
                cached[:] = [str(json.loads(value["SecretString"])["token"])]
            return cached[0]

    return token


def _default_store() -> TelemetryStore:
    services = get_services()
    settings = services.settings
    if settings.telemetry_store not in STORES:
        raise ValueError(
            f"TELEMETRY_STORE must be one of {STORES}, not {settings.telemetry_store!r}"
        )
    if settings.telemetry_store == "influxdb":
        http = InfluxHTTP(
            settings.require("influxdb_url"),
            token=secret_token(services, settings.require("influxdb_token_secret_arn")),
        )
        return InfluxDBStore(http, settings.require("influxdb_database"))
    session = services.session
    if session is None:
        import boto3

        session = boto3.session.Session()
    client = session.client(
        "timestream-write",
        endpoint_url=services.endpoints.get("timestream-write"),
        # our own backoff handles throttling; SDK retries would multiply it
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=20),
    )
    return TimestreamStore(
        client, settings.require("timestream_database"), settings.require("timestream_table")
    )


def get_store() -> TelemetryStore:
    global _store
    with _store_lock:
        if _store is None:
            _store = _default_store()
        return _store


def use_store(store: TelemetryStore | None) -> None:
    """Install a store for this process (``None`` goes back to the one from env)."""
    global _store
    with _store_lock:
        _store = store


def report_rejected(services: Services, rejected: Sequence[RejectedPoint]) -> str | None:
    """Write refused points to the data bucket (one JSON-lines object); its key."""
    if not rejected:
        return None
    now = datetime.now(UTC)
    key = f"{REJECTED_PREFIX}{now:%Y/%m/%d}/{now:%H%M%S}-{uuid.uuid4().hex}.jsonl"
    lines = [
        json.dumps({
            "measure_name": r.point.measure_name,
            "time_ms": r.point.time_ms,
            "dimensions": dict(r.point.dimensions),
            "measures": {m.name: {"value": m.value, "type": m.type} for m in r.point.measures},
            "seq": r.point.version,
            "reason": r.reason[:1000],
        }, sort_keys=True)
        for r in rejected
    ]  # fmt: skip
    services.s3.put_object(
        Bucket=services.settings.require("data_bucket"),
        Key=key,
        Body=("\n".join(lines) + "\n").encode(),
        ContentType="application/x-ndjson",
    )
    return key


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    records = records_from_event(event)
    outcome = process_records(records, get_store(), logger)
    rejected_key = report_rejected(get_services(), outcome.report.rejected)
    _acknowledge(outcome.highest_seq)
    _mark_seen(outcome.last_seen_ms)
    logger.info(
        "telemetry batch",
        extra={
            "records": len(records),
            "stored": outcome.report.stored,
            "duplicates": outcome.report.duplicates,
            "rejected": len(outcome.report.rejected),
            "rejected_report": rejected_key,
            "malformed_records": outcome.malformed_records,
            "invalid_items": outcome.invalid_items,
            "failed_from": outcome.failed_from,
        },
    )
    return outcome.lambda_response()


def _acknowledge(highest_seq: dict[str, int]) -> None:
    if not highest_seq:
        return
    services = get_services()
    table = services.settings.gateways_table
    if not table:  # a writer deployed without the Gateways table (the stack always sets it)
        return
    gateways = GatewayRepository(services.dynamodb, table)
    try:
        gateways.advance_seqs(highest_seq)
    except Exception as exc:
        logger.error(
            "could not record the gateways' acknowledged seq",
            extra={"gateways": sorted(highest_seq), "error": str(exc)[:500]},
        )


#: ``last_seen`` is kept to within this much: one write per device and interval per container.
SEEN_EVERY_MS = 10_000
MAX_SEEN_CACHE = 50_000
_seen_written: dict[tuple[str, str], int] = {}


def _mark_seen(last_seen_ms: dict[str, int]) -> None:
    """Move each registered device's ``last_seen`` forward to its newest stored point.

    At most one write per device every ``SEEN_EVERY_MS`` of data time per container
    (a busy device would otherwise cost a write per batch), so it may lag by that.

    Registration alone set ``last_seen`` (the time the gateway announced the device);
    support needs when the device last sent data. Never moves it back, never creates
    a device (the condition fails quietly for one not registered yet).
    """
    services = get_services()
    table = services.settings.devices_table
    if not last_seen_ms or not table:
        return
    if len(_seen_written) > MAX_SEEN_CACHE:
        _seen_written.clear()
    for uid, time_ms in sorted(last_seen_ms.items()):
        if time_ms - _seen_written.get((table, uid), -SEEN_EVERY_MS) < SEEN_EVERY_MS:
            continue  # written less than SEEN_EVERY_MS ago by this container: keep it cheap
        _seen_written[(table, uid)] = time_ms
        seen = iso_ms(time_ms)
        try:
            services.dynamodb.update_item(
                TableName=table,
                Key={"device_uid": {"S": uid}},
                UpdateExpression="SET last_seen = :seen",
                ConditionExpression="attribute_exists(device_uid) AND "
                "(attribute_not_exists(last_seen) OR last_seen < :seen)",
                ExpressionAttributeValues={":seen": {"S": seen}},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                logger.error(
                    "could not record last seen", extra={"device_uid": uid, "error": str(exc)[:300]}
                )


def iso_ms(time_ms: int) -> str:
    """``2026-12-06T06:00:00.123000+00:00``: the form ``now_iso`` writes, comparable as text."""
    return datetime.fromtimestamp(time_ms / 1000, UTC).isoformat(timespec="microseconds")
