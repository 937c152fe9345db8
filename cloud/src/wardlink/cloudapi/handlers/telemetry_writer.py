"""Lambda ``telemetry_writer``: Kinesis (from the IoT rules) -> Timestream.

The event source mapping must enable ``ReportBatchItemFailures``: the response
names the first record to re-deliver when Timestream stayed throttled past the
writer's retries (see ``wardlink.cloudapi.telemetry.kinesis``).

After each batch the writer raises each gateway's last acknowledged ``seq`` in the
Gateways table (``GET /gateways/{id}/sequence``); a failure there is logged, never
fails the batch: the telemetry matters more than the bookkeeping.

The store is chosen once per container. ``use_store`` lets the local cloud (and
the tests) run this same handler against moto or a counting wrapper.
"""

from __future__ import annotations

import threading
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from wardlink.cloudapi.handlers.common import logger, tracer
from wardlink.cloudapi.repositories import GatewayRepository
from wardlink.cloudapi.services import get_services
from wardlink.cloudapi.telemetry.kinesis import process_records, records_from_event
from wardlink.cloudapi.telemetry.store import TelemetryStore
from wardlink.cloudapi.telemetry.timestream import TimestreamStore

_store: TelemetryStore | None = None
_store_lock = threading.Lock()


def _default_store() -> TelemetryStore:
    services = get_services()
    settings = services.settings
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
    """Install a store for this process (``None`` goes back to Timestream from env)."""
    global _store
    with _store_lock:
        _store = store


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    records = records_from_event(event)
    outcome = process_records(records, get_store(), logger)
    _acknowledge(outcome.highest_seq)
    logger.info(
        "telemetry batch",
        extra={
            "records": len(records),
            "stored": outcome.report.stored,
            "duplicates": outcome.report.duplicates,
            "rejected": len(outcome.report.rejected),
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
    gateways = GatewayRepository(services.dynamodb, services.settings.require("gateways_table"))
    try:
        gateways.advance_seqs(highest_seq)
    except Exception as exc:
        logger.error(
            "could not record the gateways' acknowledged seq",
            extra={"gateways": sorted(highest_seq), "error": str(exc)[:500]},
        )
