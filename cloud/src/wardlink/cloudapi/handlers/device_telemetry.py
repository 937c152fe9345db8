"""Lambda ``device_telemetry``: a device's recent telemetry, for manufacturer support.

Route (API Gateway REST, AWS_IAM auth), support and operators only; a gateway is
refused by IAM and again here:

* ``GET /devices/{device_uid}/telemetry?since_s=3600&limit=500&next_token=``: the
  device's observations of the last ``since_s`` seconds (at most a week), oldest
  first, ``limit`` a page (at most 1,000). The first page fixes the window; its
  ``next_token`` carries the window and the cursor, so later pages read the same
  window. 404 for a device that is not registered.

Reads the InfluxDB store (Timestream for InfluxDB in AWS, a local ``influxd`` in the
local cloud) over InfluxQL; with the LiveAnalytics store the route answers 501.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from wardlink.cloudapi.errors import ApiError, BadRequest, NotFound
from wardlink.cloudapi.handlers.common import (
    build_resolver,
    current_caller,
    logger,
    path_id,
    tracer,
)
from wardlink.cloudapi.repositories import DeviceRepository
from wardlink.cloudapi.services import get_services
from wardlink.cloudapi.telemetry.influxdb import InfluxHTTP
from wardlink.cloudapi.telemetry.window import Cursor, Sample, TelemetryWindowReader
from wardlink.contract.fleet import (
    MAX_TELEMETRY_PAGE,
    MAX_TELEMETRY_WINDOW_S,
    TelemetryPage,
    TelemetrySample,
)
from wardlink.contract.models import DEVICE_UID_PATTERN

app = build_resolver()


class NotImplementedByStore(ApiError):
    status = 501
    code = "NotImplemented"


def _reader() -> TelemetryWindowReader:
    services = get_services()
    settings = services.settings
    if settings.telemetry_store != "influxdb":
        raise NotImplementedByStore("reading telemetry back needs the InfluxDB store")
    token = None
    if settings.influxdb_token_secret_arn:
        from wardlink.cloudapi.handlers.telemetry_writer import secret_token

        token = secret_token(services, settings.influxdb_token_secret_arn)
    http = InfluxHTTP(settings.require("influxdb_url"), token=token)
    return TelemetryWindowReader(http, settings.require("influxdb_database"))


def _encode(start_ms: int, stop_ms: int, cursor: Cursor) -> str:
    raw = json.dumps([start_ms, stop_ms, cursor.time_ms, cursor.metric, cursor.mdc_code])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(token: str) -> tuple[int, int, Cursor]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        start, stop, at, metric, mdc = json.loads(raw)
        if not all(isinstance(v, int) for v in (start, stop, at)):
            raise ValueError("times")
        if not isinstance(metric, str) or not isinstance(mdc, str):
            raise ValueError("names")
    except (binascii.Error, ValueError, TypeError) as exc:
        raise BadRequest("next_token is not a token this API issued") from exc
    if stop - start > MAX_TELEMETRY_WINDOW_S * 1000 or not start <= at <= stop:
        raise BadRequest("next_token is not a token this API issued")
    return start, stop, Cursor(at, metric, mdc)


def _sample(sample: Sample) -> TelemetrySample:
    return TelemetrySample(
        time=sample.iso_time(), metric=sample.metric, value=sample.value, unit=sample.unit,
        seq=sample.seq,
    )  # fmt: skip


def _iso(ms: int) -> str:
    return Sample(ms, "", "", None, None, None).iso_time()


@app.get("/devices/<device_uid>/telemetry")
def device_telemetry(
    device_uid: str,
    since_s: Annotated[int, Query(ge=1, le=MAX_TELEMETRY_WINDOW_S)] = 3600,
    limit: Annotated[int, Query(ge=1, le=MAX_TELEMETRY_PAGE)] = 500,
    next_token: Annotated[str | None, Query(min_length=1, max_length=1024)] = None,
) -> TelemetryPage:
    current_caller(app).require_support()
    uid = path_id(device_uid, DEVICE_UID_PATTERN, "device_uid")
    services = get_services()
    devices = DeviceRepository(services.dynamodb, services.settings.require("devices_table"))
    if devices.get(uid) is None:
        raise NotFound(f"device {uid} is not registered")
    if next_token:
        start_ms, stop_ms, after = _decode(next_token)
    else:
        stop_ms = int(time.time() * 1000)
        start_ms, after = stop_ms - since_s * 1000, None
    gateway_id, _, device_id = uid.partition("/")
    samples, cursor = _reader().read(gateway_id, device_id, start_ms, stop_ms, limit, after)
    return TelemetryPage(
        device_uid=uid,
        since=_iso(start_ms),
        until=_iso(stop_ms),
        items=[_sample(s) for s in samples],
        next_token=_encode(start_ms, stop_ms, cursor) if cursor else None,
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
