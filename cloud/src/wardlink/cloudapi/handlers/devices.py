"""Lambda ``devices``: registration upsert, lookup and fleet search.

Routes (API Gateway REST, AWS_IAM auth). A gateway's own data is under its thing
name, which the gateway role's IAM policy matches against the caller:

* ``POST /gateways/{gateway_id}/devices``: a gateway registers or updates one of its
  devices (201 created, 200 updated); the body's ``gateway_id`` must be the path's;
* ``GET /gateways/{gateway_id}/devices/{device_id}``: one of that gateway's devices;
* ``GET /gateways/{gateway_id}/devices[?site_id=|model=[&firmware_version=]]``:
  that gateway's devices only, paginated with ``limit`` and ``next_token``;
* ``GET /gateways/{gateway_id}/sequence``: the highest ``seq`` the telemetry writer
  stored for the gateway, which a gateway that lost its spool numbers above.

Support and operators only (a gateway is refused, by IAM and again here):

* ``GET /devices/{device_uid}``: one device; ``device_uid`` is
  ``{gateway_id}/{device_id}`` URL-encoded (``/`` as ``%2F``);
* ``GET /devices?gateway_id=`` | ``?model=[&firmware_version=]`` | ``?site_id=``:
  fleet search.
"""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from wardlink.cloudapi.errors import Forbidden, NotFound
from wardlink.cloudapi.handlers.common import (
    NOT_YOURS,
    build_resolver,
    current_caller,
    json_response,
    logger,
    path_id,
    require_same_gateway,
    tracer,
)
from wardlink.cloudapi.repositories import DeviceRepository, FleetQuery, GatewayRepository
from wardlink.cloudapi.repositories.items import now_iso
from wardlink.cloudapi.services import get_services
from wardlink.contract.access import Role
from wardlink.contract.models import (
    DEVICE_UID_PATTERN,
    FIRMWARE_PATTERN,
    GATEWAY_ID_PATTERN,
    MAX_PAGE_SIZE,
    SITE_ID_PATTERN,
    Device,
    DevicePage,
    DeviceRegistration,
    GatewaySequence,
)
from wardlink.contract.models import device_uid as device_uid_of
from wardlink.model.identity import DEVICE_ID_PATTERN

app = build_resolver()


def _devices() -> DeviceRepository:
    services = get_services()
    return DeviceRepository(services.dynamodb, services.settings.require("devices_table"))


def _gateways() -> GatewayRepository:
    services = get_services()
    return GatewayRepository(services.dynamodb, services.settings.require("gateways_table"))


@app.post("/gateways/<gateway_id>/devices")
def register_device(gateway_id: str, registration: DeviceRegistration) -> Response[Device]:
    gateway = path_id(gateway_id, GATEWAY_ID_PATTERN, "gateway_id")
    require_same_gateway(gateway, registration.gateway_id)
    caller = current_caller(app)
    if caller.role is not Role.GATEWAY:
        raise Forbidden(NOT_YOURS)  # only a gateway describes its devices
    now = now_iso()
    device, created = _devices().upsert(registration, now)
    _gateways().touch(registration.gateway_id, now, registration.site_id)
    logger.info(
        "device registered" if created else "device updated",
        extra={"device_uid": device.device_uid, "caller": caller.arn},
    )
    return json_response(201 if created else 200, device)


@app.get("/gateways/<gateway_id>/devices/<device_id>")
def get_own_device(gateway_id: str, device_id: str) -> Device:
    gateway = path_id(gateway_id, GATEWAY_ID_PATTERN, "gateway_id")
    device = path_id(device_id, DEVICE_ID_PATTERN, "device_id")
    return _get(device_uid_of(gateway, device))


@app.get("/gateways/<gateway_id>/sequence")
def last_acknowledged_seq(gateway_id: str) -> GatewaySequence:
    """How far the cloud has stored this gateway's records (IAM keeps other gateways out)."""
    gateway = path_id(gateway_id, GATEWAY_ID_PATTERN, "gateway_id")
    return GatewaySequence(gateway_id=gateway, last_acknowledged_seq=_gateways().last_seq(gateway))


@app.get("/gateways/<gateway_id>/devices")
def search_own_devices(
    gateway_id: str,
    site_id: Annotated[str | None, Query(pattern=SITE_ID_PATTERN)] = None,
    model: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    firmware_version: Annotated[str | None, Query(pattern=FIRMWARE_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    next_token: Annotated[str | None, Query(min_length=1, max_length=2048)] = None,
) -> DevicePage:
    """One gateway's devices, optionally narrowed: the only search a gateway can make."""
    gateway = path_id(gateway_id, GATEWAY_ID_PATTERN, "gateway_id")
    require_same_gateway(gateway, _query_value("gateway_id"))
    query = FleetQuery(
        within_gateway=gateway, site_id=site_id, model=model, firmware_version=firmware_version
    )
    items, token = _devices().search(query, limit, next_token)
    return DevicePage(items=items, next_token=token)


@app.get("/devices/<device_uid>")
def get_device(device_uid: str) -> Device:
    current_caller(app).require_support()
    return _get(path_id(device_uid, DEVICE_UID_PATTERN, "device_uid"))


@app.get("/devices")
def search_devices(
    gateway_id: Annotated[str | None, Query(pattern=GATEWAY_ID_PATTERN)] = None,
    site_id: Annotated[str | None, Query(pattern=SITE_ID_PATTERN)] = None,
    model: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    firmware_version: Annotated[str | None, Query(pattern=FIRMWARE_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    next_token: Annotated[str | None, Query(min_length=1, max_length=2048)] = None,
) -> DevicePage:
    """Fleet search across every gateway: support and operators only."""
    current_caller(app).require_support()
    query = FleetQuery(
        gateway_id=gateway_id, site_id=site_id, model=model, firmware_version=firmware_version
    )
    items, token = _devices().search(query, limit, next_token)
    return DevicePage(items=items, next_token=token)


def _get(uid: str) -> Device:
    device = _devices().get(uid)
    if device is None:
        raise NotFound(f"device {uid} is not registered")
    return device


def _query_value(name: str) -> str | None:
    """A query parameter the route does not declare (a gateway naming another gateway)."""
    params = app.current_event.query_string_parameters or {}
    return params.get(name)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
