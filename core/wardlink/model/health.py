"""Gateway health: the heartbeat the cloud and the technician UI both read.

Every field is a number or the gateway's thing name, so the type cannot carry PHI
by construction; that is why it may be spooled without passing the policy.
"""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


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

    def to_json_bytes(self) -> bytes:
        return self.__pydantic_serializer__.to_json(self)
