"""Device status: connection, battery and error codes, separate from telemetry.

Status messages feed the cloud detectors (offline, fault, battery). They are raw
like observations (``detail`` is free text from the device) until the policy
redacts them.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from wardlink.model.identity import DEVICE_ID_PATTERN


class Connectivity(StrEnum):
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    SILENT = "silent"  # link is up but nothing arrived within 2x the expected interval


class DeviceStatus(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    device_id: str = Field(pattern=DEVICE_ID_PATTERN)
    at: AwareDatetime
    connectivity: Connectivity
    battery_percent: float | None = Field(default=None, ge=0, le=100)
    error_codes: tuple[str, ...] = ()
    detail: str | None = Field(default=None, description="free text; may carry PHI")
