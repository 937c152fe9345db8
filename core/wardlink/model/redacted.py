"""Outbound types: the only shapes of data allowed to leave the device process.

Each type here can only be constructed inside ``wardlink.model.seal.sealing()``,
which only the redaction policy and the spool may enter. They carry no patient
fields other than an optional pseudonymous ``patient_ref`` chosen by the policy.
"""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from wardlink.model.identity import DEVICE_ID_PATTERN
from wardlink.model.observation import Quality
from wardlink.model.seal import require_seal
from wardlink.model.status import Connectivity


class _Sealed(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def model_post_init(self, context: Any, /) -> None:
        require_seal(type(self).__name__)


class RedactedObservation(_Sealed):
    """An observation after the policy: allow-listed fields only, free text scrubbed."""

    device_id: str = Field(pattern=DEVICE_ID_PATTERN)
    device_model: str | None = None
    mdc_code: int
    mdc_name: str
    value: float | None
    unit: str
    measured_at: AwareDatetime
    quality: Quality
    flags: tuple[str, ...] = ()
    annotation: str | None = None
    patient_ref: str | None = None
    # the device's site-assigned location, only the parts the policy lets out
    # (``location.send``; default the care unit only). ``unit`` above is the value's unit.
    location_unit: str | None = None
    location_room: str | None = None
    location_bed: str | None = None

    def to_json_bytes(self) -> bytes:
        return self.__pydantic_serializer__.to_json(self, exclude_none=True)


class RedactedDeviceStatus(_Sealed):
    """A device status message after the policy."""

    device_id: str = Field(pattern=DEVICE_ID_PATTERN)
    device_model: str | None = None
    at: AwareDatetime
    connectivity: Connectivity
    battery_percent: float | None = None
    error_codes: tuple[str, ...] = ()
    detail: str | None = None

    def to_json_bytes(self) -> bytes:
        return self.__pydantic_serializer__.to_json(self, exclude_none=True)


class RedactedDeviceInfo(_Sealed):
    """What the cloud may know about a proxied device: for registration and fleet search.

    The serial number is present only if the site's policy lets it leave
    (``identifiers.device_serial``: drop by default, Safe Harbor identifier 13).
    Its site-assigned location carries only the parts ``location.send`` lets out
    (default: the care unit only), as with its telemetry.
    """

    device_id: str = Field(pattern=DEVICE_ID_PATTERN)
    model: str
    manufacturer: str
    firmware_version: str | None = None
    serial_number: str | None = None
    profile: str | None = None
    connectivity: Connectivity
    location_unit: str | None = None
    location_room: str | None = None
    location_bed: str | None = None

    def to_json_bytes(self) -> bytes:
        return self.__pydantic_serializer__.to_json(self, exclude_none=True)
