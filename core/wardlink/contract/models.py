"""Request and response shapes of the cloud API.

These are the single source of truth for the API's JSON: the handlers validate with
them, the edge client parses responses with them, and ``cloud/openapi.yaml`` states
the same constraints (a test keeps the two in step). Only pydantic is imported here,
so the gateway can use the models without boto3 or Powertools.

Identifiers travel in URL paths and in DynamoDB sort keys, so their patterns exclude
``/`` and ``#`` (the key separators) except where the contract puts them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from wardlink.model.identity import DEVICE_ID_PATTERN

GATEWAY_ID_PATTERN = r"^[A-Za-z0-9:_-]{1,128}$"  # an AWS IoT thing name
SITE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
LOCATION_LABEL_PATTERN = r"^[A-Za-z0-9_.:/#+ -]{1,48}$"  # as the policy's ward-label check
FIRMWARE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$"
DEVICE_UID_PATTERN = r"^[A-Za-z0-9:_-]{1,128}/[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
FILENAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
CONTENT_TYPE_PATTERN = r"^[a-z]+/[A-Za-z0-9.+-]{1,100}$"
PROCEDURE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"

MAX_PAGE_SIZE = 100
UNKNOWN_FIRMWARE = "unknown"


def device_uid(gateway_id: str, device_id: str) -> str:
    """The Devices table key: a device id is only unique within its gateway."""
    return f"{gateway_id}/{device_id}"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DeviceState(StrEnum):
    """Lifecycle of a device as its gateway reports it at registration."""

    REGISTERED = "registered"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    SILENT = "silent"
    RETIRED = "retired"


class DeviceRegistration(_Strict):
    """Body of ``POST /devices``: the full descriptive record of one proxied device.

    Registration replaces the descriptive fields (an absent optional field is
    cleared), and keeps ``registered_at`` and ``data_files``, so a gateway can
    re-register on every discovery without losing history.
    """

    gateway_id: str = Field(pattern=GATEWAY_ID_PATTERN)
    device_id: str = Field(pattern=DEVICE_ID_PATTERN)
    model: str = Field(min_length=1, max_length=128)
    manufacturer: str = Field(default="unknown", min_length=1, max_length=128)
    serial_number: str | None = Field(default=None, min_length=1, max_length=128)
    firmware_version: str | None = Field(default=None, pattern=FIRMWARE_PATTERN)
    site_id: str | None = Field(default=None, pattern=SITE_ID_PATTERN)
    status: DeviceState = DeviceState.REGISTERED
    # the site-assigned location, only the parts the gateway's PHI policy lets out
    # (``location.send``; default the care unit only); ward labels, never names
    location_unit: str | None = Field(default=None, pattern=LOCATION_LABEL_PATTERN)
    location_room: str | None = Field(default=None, pattern=LOCATION_LABEL_PATTERN)
    location_bed: str | None = Field(default=None, pattern=LOCATION_LABEL_PATTERN)


class DataFile(BaseModel):
    """A procedure data file linked to a device (uploaded or about to be)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    upload_id: str
    key: str
    filename: str
    content_type: str
    requested_at: str
    status: str = "pending"
    procedure_id: str | None = None
    size_bytes: int | None = None


class Device(BaseModel):
    """A row of the Devices table as the API returns it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    device_uid: str
    device_id: str
    gateway_id: str
    model: str
    manufacturer: str = "unknown"
    serial_number: str | None = None
    firmware_version: str | None = None
    site_id: str | None = None
    status: str = DeviceState.REGISTERED.value
    location_unit: str | None = None
    location_room: str | None = None
    location_bed: str | None = None
    last_seen: str
    registered_at: str
    data_files: list[DataFile] = Field(default_factory=list)


class DevicePage(BaseModel):
    """One page of a fleet search; pass ``next_token`` back to get the next one."""

    model_config = ConfigDict(frozen=True)

    items: list[Device]
    next_token: str | None = None


class UploadRequest(_Strict):
    """Body of ``POST /devices/{device_uid}/uploads``."""

    filename: str = Field(pattern=FILENAME_PATTERN)
    content_type: str = Field(default="application/octet-stream", pattern=CONTENT_TYPE_PATTERN)
    procedure_id: str | None = Field(default=None, pattern=PROCEDURE_ID_PATTERN)
    size_bytes: int | None = Field(default=None, ge=1, le=5 * 1024**3)


class UploadTicket(BaseModel):
    """A presigned S3 PUT: send the file with exactly these headers before it expires."""

    model_config = ConfigDict(frozen=True)

    upload_id: str
    device_uid: str
    key: str
    url: str
    method: str = "PUT"
    headers: dict[str, str]
    expires_at: str


class AlarmState(StrEnum):
    """IoT Events alarm states."""

    NORMAL = "NORMAL"
    ACTIVE = "ACTIVE"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    LATCHED = "LATCHED"
    SNOOZE_DISABLED = "SNOOZE_DISABLED"
    DISABLED = "DISABLED"


class AlarmAction(StrEnum):
    """Operator actions on an alarm (IoT Events' acknowledge, snooze, reset, disable, enable)."""

    ACK = "ack"
    SNOOZE = "snooze"
    RESET = "reset"
    DISABLE = "disable"
    ENABLE = "enable"


class AlarmActionRequest(_Strict):
    """Body of ``POST /alarms/{alarm_id}/{action}``; ``note`` is the audited *why*."""

    note: str = Field(min_length=1, max_length=1000)
    snooze_seconds: Annotated[int, Field(ge=60, le=7 * 24 * 3600)] | None = None


class Alarm(BaseModel):
    """A row of the Alarms table, joined with its device when the device is known.

    The detector engine writes the descriptive fields (``title`` .. ``runbook``)
    when it changes an alarm; rows written before it did, or by other tools, lack
    them, hence optional. ``gateway_id`` and ``site_id`` are the registry facts at
    the time of the change, so gateway alarms (no device to join) still say where.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    alarm_id: str
    state: AlarmState
    severity: int | None = None
    device_uid: str | None = None
    since: str | None = None
    last_change: str
    notes: str | None = None
    snooze_until: str | None = None
    title: str | None = None
    detector_state: str | None = None
    gateway_id: str | None = None
    site_id: str | None = None
    last_alert: str | None = None
    runbook: str | None = None
    device: Device | None = None


class AlarmPage(BaseModel):
    model_config = ConfigDict(frozen=True)

    items: list[Alarm]
    next_token: str | None = None


class AuditEntry(BaseModel):
    """A row of the AlarmAudit table: who did what to an alarm, when and why."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    alarm_id: str
    at_seq: str
    at: str
    who: str
    action: str
    why: str | None = None
    from_state: str | None = None
    to_state: str | None = None


class AuditPage(BaseModel):
    model_config = ConfigDict(frozen=True)

    items: list[AuditEntry]
    next_token: str | None = None


class GatewaySequence(BaseModel):
    """Body of ``GET /gateways/{gateway_id}/sequence``: how far the cloud has stored.

    ``last_acknowledged_seq`` is the highest gateway ``seq`` the telemetry writer has
    stored for the gateway (0 for a gateway the cloud has not heard from). A gateway
    whose spool lost both its database and its high-water mark asks for it at
    start-up and numbers new records above it, so ``seq`` never goes backwards as
    the cloud sees it.
    """

    model_config = ConfigDict(frozen=True)

    gateway_id: str = Field(pattern=GATEWAY_ID_PATTERN)
    last_acknowledged_seq: int = Field(ge=0)


class ErrorBody(BaseModel):
    """Every error response: a stable machine code and a sentence for people."""

    model_config = ConfigDict(frozen=True)

    error: str
    message: str
    details: list[dict[str, object]] | None = None


__all__ = [
    "DEVICE_UID_PATTERN",
    "FIRMWARE_PATTERN",
    "GATEWAY_ID_PATTERN",
    "SITE_ID_PATTERN",
    "Alarm",
    "AlarmAction",
    "AlarmActionRequest",
    "AlarmPage",
    "AlarmState",
    "AuditEntry",
    "AuditPage",
    "DataFile",
    "Device",
    "DevicePage",
    "DeviceRegistration",
    "DeviceState",
    "ErrorBody",
    "GatewaySequence",
    "UploadRequest",
    "UploadTicket",
    "device_uid",
]
