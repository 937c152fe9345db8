"""Lambda ``telemetry_writer``: Kinesis (from the IoT rules) -> Timestream.

The event source mapping must enable ``ReportBatchItemFailures``: the response
names the first record to re-deliver when Timestream stayed throttled past the
writer's retries (see ``wardlink.cloudapi.telemetry.kinesis``).

The store is chosen once per container. ``use_store`` lets the local cloud (and
the tests) run this same handler against moto or a counting wrapper.
"""

from __future__ import annotations

import threading
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from wardlink.cloudapi.handlers.common import logger, tracer
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
