"""The REST API's resources, and which Lambda handler serves each.

The same table drives the local API server; the CDK app wires the same resources
to the same handler strings, and ``cloud/openapi.yaml`` documents them.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

DEVICES_HANDLER = "wardlink.cloudapi.handlers.devices.handler"
UPLOADS_HANDLER = "wardlink.cloudapi.handlers.uploads.handler"
ALARMS_HANDLER = "wardlink.cloudapi.handlers.alarms.handler"
DIAGNOSTICS_HANDLER = "wardlink.cloudapi.handlers.diagnostics.handler"
AUDIT_HANDLER = "wardlink.cloudapi.handlers.audit.handler"
TELEMETRY_WRITER_HANDLER = "wardlink.cloudapi.handlers.telemetry_writer.handler"
FLEET_HANDLER = "wardlink.cloudapi.handlers.fleet.handler"
DEVICE_TELEMETRY_HANDLER = "wardlink.cloudapi.handlers.device_telemetry.handler"


@dataclass(frozen=True)
class Route:
    method: str
    resource: str  # API Gateway resource path, with {param} placeholders
    handler: str

    @property
    def segments(self) -> tuple[str, ...]:
        return tuple(self.resource.strip("/").split("/"))


ROUTES: tuple[Route, ...] = (
    Route("POST", "/gateways/{gateway_id}/devices", DEVICES_HANDLER),
    Route("GET", "/gateways/{gateway_id}/devices", DEVICES_HANDLER),
    Route("GET", "/gateways/{gateway_id}/devices/{device_id}", DEVICES_HANDLER),
    Route("POST", "/gateways/{gateway_id}/devices/{device_id}/uploads", UPLOADS_HANDLER),
    Route("GET", "/gateways/{gateway_id}/sequence", DEVICES_HANDLER),
    Route("POST", "/gateways/{gateway_id}/diagnostics", DIAGNOSTICS_HANDLER),
    Route("GET", "/gateways/{gateway_id}/diagnostics", DIAGNOSTICS_HANDLER),
    Route("GET", "/gateways/{gateway_id}/diagnostics/{request_id}", DIAGNOSTICS_HANDLER),
    Route(
        "POST", "/gateways/{gateway_id}/diagnostics/{request_id}/{decision}", DIAGNOSTICS_HANDLER
    ),
    Route("GET", "/devices", DEVICES_HANDLER),
    Route("GET", "/devices/{device_uid}", DEVICES_HANDLER),
    Route("GET", "/alarms", ALARMS_HANDLER),
    Route("GET", "/alarms/{alarm_id}", ALARMS_HANDLER),
    Route("GET", "/alarms/{alarm_id}/history", ALARMS_HANDLER),
    Route("POST", "/alarms/{alarm_id}/{action}", ALARMS_HANDLER),
    Route("GET", "/audit/findings", AUDIT_HANDLER),
    Route("GET", "/fleet/devices", FLEET_HANDLER),
    Route("GET", "/devices/{device_uid}/telemetry", DEVICE_TELEMETRY_HANDLER),
)


@dataclass(frozen=True)
class RouteMatch:
    route: Route
    path_parameters: dict[str, str]  # decoded, as API Gateway passes them


class MethodNotAllowed(Exception):
    pass


def match_route(method: str, raw_path: str) -> RouteMatch | None:
    """Match a raw (still percent-encoded) path: ``%2F`` stays inside one segment.

    Literal segments win over parameters, as in API Gateway. Raises
    ``MethodNotAllowed`` when the path exists but not for this method.
    """
    segments = tuple(raw_path.strip("/").split("/")) if raw_path.strip("/") else ()
    candidates: list[tuple[int, Route, dict[str, str]]] = []
    for route in ROUTES:
        params = _match_segments(route.segments, segments)
        if params is not None:
            literals = sum(1 for s in route.segments if not s.startswith("{"))
            candidates.append((literals, route, params))
    if not candidates:
        return None
    for _, route, params in sorted(candidates, key=lambda c: -c[0]):
        if route.method == method.upper():
            return RouteMatch(route, params)
    raise MethodNotAllowed(raw_path)


def _match_segments(pattern: tuple[str, ...], segments: tuple[str, ...]) -> dict[str, str] | None:
    if len(pattern) != len(segments):
        return None
    params: dict[str, str] = {}
    for expected, actual in zip(pattern, segments, strict=True):
        if expected.startswith("{"):
            if not actual:
                return None
            params[expected.strip("{}")] = unquote(actual)
        elif expected != actual:
            return None
    return params
