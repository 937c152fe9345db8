"""Lambda ``devices``: registration upsert, lookup and fleet search.

Routes (API Gateway REST, AWS_IAM auth):

* ``POST /devices``: register or update a device (201 created, 200 updated);
* ``GET /devices/{device_uid}``: one device; ``device_uid`` is
  ``{gateway_id}/{device_id}`` URL-encoded (``/`` as ``%2F``);
* ``GET /devices?gateway_id=`` | ``?model=[&firmware_version=]`` | ``?site_id=``:
  fleet search, paginated with ``limit`` and ``next_token``.
"""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from wardlink.cloudapi.errors import NotFound
from wardlink.cloudapi.handlers.common import (
    build_resolver,
    caller_identity,
    json_response,
    logger,
    path_id,
    tracer,
)
from wardlink.cloudapi.repositories import DeviceRepository, FleetQuery, GatewayRepository
from wardlink.cloudapi.repositories.items import now_iso
from wardlink.cloudapi.services import get_services
from wardlink.contract.models import (
    DEVICE_UID_PATTERN,
    FIRMWARE_PATTERN,
    GATEWAY_ID_PATTERN,
    MAX_PAGE_SIZE,
    SITE_ID_PATTERN,
    Device,
    DevicePage,
    DeviceRegistration,
)

app = build_resolver()


def _devices() -> DeviceRepository:
    services = get_services()
    return DeviceRepository(services.dynamodb, services.settings.require("devices_table"))


def _gateways() -> GatewayRepository:
    services = get_services()
    return GatewayRepository(services.dynamodb, services.settings.require("gateways_table"))


@app.post("/devices")
def register_device(registration: DeviceRegistration) -> Response[Device]:
    now = now_iso()
    device, created = _devices().upsert(registration, now)
    _gateways().touch(registration.gateway_id, now, registration.site_id)
    logger.info(
        "device registered" if created else "device updated",
        extra={"device_uid": device.device_uid, "caller": caller_identity(app)},
    )
    return json_response(201 if created else 200, device)


@app.get("/devices/<device_uid>")
def get_device(device_uid: str) -> Device:
    uid = path_id(device_uid, DEVICE_UID_PATTERN, "device_uid")
    device = _devices().get(uid)
    if device is None:
        raise NotFound(f"device {uid} is not registered")
    return device


@app.get("/devices")
def search_devices(
    gateway_id: Annotated[str | None, Query(pattern=GATEWAY_ID_PATTERN)] = None,
    site_id: Annotated[str | None, Query(pattern=SITE_ID_PATTERN)] = None,
    model: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    firmware_version: Annotated[str | None, Query(pattern=FIRMWARE_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    next_token: Annotated[str | None, Query(min_length=1, max_length=2048)] = None,
) -> DevicePage:
    query = FleetQuery(
        gateway_id=gateway_id, site_id=site_id, model=model, firmware_version=firmware_version
    )
    items, token = _devices().search(query, limit, next_token)
    return DevicePage(items=items, next_token=token)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
