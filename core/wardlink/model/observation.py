"""The normalized observation: one measured value, in MDC and UCUM terms.

An ``Observation`` is *raw*: it lives only inside the process that read the device.
It has no patient fields (patient data is split off into ``PatientContext`` by the
codec), but its free-text ``annotation`` may still carry PHI, so it is not an
outbound type. The redaction policy turns it into a ``RedactedObservation``.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from wardlink.model.identity import DEVICE_ID_PATTERN


class Quality(StrEnum):
    """How far the value can be trusted, as the device reported it."""

    VALID = "valid"
    QUESTIONABLE = "questionable"  # device flagged it (artifact, low perfusion, ...)
    INVALID = "invalid"  # out of the device's measuring range, bad checksum upstream, ...
    UNAVAILABLE = "unavailable"  # device sent its 'missing data' marker; value is None


class Metric(BaseModel):
    """An IEEE 11073-10101 nomenclature term: numeric code plus its reference id."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mdc_code: int = Field(ge=0, le=0xFFFFFFFF, description="partition<<16 | term code")
    mdc_name: str = Field(pattern=r"^MDC_[A-Z0-9_]+$")


class Observation(BaseModel):
    """One measured value from one device at one time."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    device_id: str = Field(pattern=DEVICE_ID_PATTERN)
    metric: Metric
    value: float | None
    unit: str = Field(min_length=1, max_length=32, description="UCUM case-sensitive code")
    measured_at: AwareDatetime
    quality: Quality = Quality.VALID
    flags: tuple[str, ...] = ()
    annotation: str | None = Field(default=None, description="free text; may carry PHI")

    def with_time(self, measured_at: datetime) -> Observation:
        """Return a copy with another timestamp (device-time correction)."""
        return self.model_copy(update={"measured_at": measured_at})
