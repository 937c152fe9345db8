"""Gateway health: the heartbeat the cloud and the technician UI both read.

Every field is a number, the gateway's thing name, its state, or (only when it
stops for maintenance) the ids of its devices. Device ids are assigned by the site
configuration, never derived from patient data, and cleared to travel to the cloud
(``DeviceIdentity``); every sealed record carries them already. So the type adds
no path for PHI; that is why it may be spooled without passing the policy.

``state`` and ``maintenance_devices`` were added after the first gateways shipped:
both have defaults, so a health item without them still parses, and the cloud
reads the absence of ``state`` as ``running``. ``dropped_by_reason`` (the counted
loss behind ``dropped_total``, by reason: disk_full, write_error, queue_overflow,
damaged) and ``spool_disk_full`` came later still, with defaults for the same reason.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from wardlink.model.identity import DEVICE_ID_PATTERN

MAX_MAINTENANCE_DEVICES = 1000
"""More ids than a gateway proxies, few enough to stay far inside one 128 KB message."""


class GatewayState(StrEnum):
    """What the gateway says about itself in a health item."""

    RUNNING = "running"
    MAINTENANCE = "maintenance"
    """A component is stopping on purpose (restart, deployment, reboot) and will be back:
    the cloud holds the offline alerts of the gateway and of ``maintenance_devices`` for
    as long as its detector models allow (fail closed: they do alert if it stays away)."""


class GatewayHealth(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    gateway_id: str = Field(pattern=r"^[a-zA-Z0-9:_-]{1,128}$")
    at: AwareDatetime
    uptime_s: float = Field(ge=0)
    spool_depth: int = Field(ge=0)
    spool_bytes: int = Field(ge=0)
    spool_oldest_age_s: float = Field(ge=0)
    delivered_total: int = Field(ge=0)
    delivered_per_s: float = Field(ge=0)
    evicted_total: int = Field(ge=0)
    expired_total: int = Field(ge=0)
    dropped_total: int = Field(ge=0)
    quarantined_total: int = Field(ge=0)
    connected_devices: int = Field(ge=0)
    uplink_connected: bool
    last_seq: int = Field(ge=0)
    state: GatewayState = GatewayState.RUNNING
    dropped_by_reason: dict[
        Annotated[str, Field(pattern=r"^[a-z_]{1,32}$")], Annotated[int, Field(ge=0)]
    ] = Field(default_factory=dict, max_length=16)
    spool_disk_full: bool = False
    maintenance_devices: tuple[Annotated[str, Field(pattern=DEVICE_ID_PATTERN)], ...] = Field(
        default=(),
        max_length=MAX_MAINTENANCE_DEVICES,
        description="ids of the devices whose silence is planned (state maintenance only)",
    )

    @model_validator(mode="after")
    def _devices_only_in_maintenance(self) -> GatewayHealth:
        if self.maintenance_devices and self.state is not GatewayState.MAINTENANCE:
            raise ValueError("maintenance_devices is only allowed with state 'maintenance'")
        return self

    def to_json_bytes(self) -> bytes:
        return self.__pydantic_serializer__.to_json(self)
