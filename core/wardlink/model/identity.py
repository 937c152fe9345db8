"""Who a device is, as the gateway knows it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

DEVICE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class DeviceIdentity(BaseModel):
    """A device proxied by the gateway.

    ``device_id`` is assigned by the gateway (from the site configuration), is stable
    across reconnects and is never derived from patient data, so it may travel to
    the cloud. The serial number identifies the manufacturer's own product; whether
    it travels is decided by the redaction policy (Safe Harbor lists device serial
    numbers as identifier 13, see docs/phi-policy.md).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    device_id: str = Field(pattern=DEVICE_ID_PATTERN)
    model: str = Field(min_length=1, max_length=128)
    manufacturer: str = Field(default="unknown", max_length=128)
    serial_number: str | None = Field(default=None, max_length=128)
    firmware_version: str | None = Field(default=None, max_length=64)
    profile: str | None = Field(default=None, description="device profile name")
