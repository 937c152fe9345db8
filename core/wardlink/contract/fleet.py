"""Response shapes of the support routes: fleet search and a device's recent telemetry.

Kept apart from ``contract.models`` (the gateway's shapes) because only support
reads them: ``GET /fleet/devices`` and ``GET /devices/{device_uid}/telemetry``.
Only pydantic is imported, like the rest of the contract.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

#: Telemetry reads are bounded: at most this far back, at most this many points a page.
MAX_TELEMETRY_WINDOW_S = 7 * 24 * 3600
MAX_TELEMETRY_PAGE = 1000
FLEET_SEARCH_PARAMETERS = (
    "category", "model", "firmware", "firmware_prefix", "firmware_from", "firmware_to",
    "site_id", "gateway_id", "status", "seen_after", "seen_before",
)  # fmt: skip


class FleetDevice(BaseModel):
    """One unit as support sees it: a gateway's registration or an inventory record.

    ``source`` says which: ``gateway`` rows have ``gateway_id``, ``device_id`` and a
    real ``last_seen`` (the last registration), and a ``serial_number`` only when the
    site's PHI policy lets the serial through; ``inventory`` rows are the
    manufacturer's own records (``wardlink fleet register``), with the serial and
    category but no gateway until a registration carries that serial.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    device_uid: str
    source: Literal["gateway", "inventory"]
    gateway_id: str | None = None
    device_id: str | None = None
    serial_number: str | None = None
    model: str
    manufacturer: str | None = None
    category: str | None = None
    firmware_version: str | None = None
    site_id: str | None = None
    status: str | None = None
    last_seen: str | None = None


class FleetSearchPage(BaseModel):
    """One page of ``GET /fleet/devices``.

    ``index`` names the index that served the search; ``scanned`` is true when none
    could and the table was scanned (slower, and ``note`` says so). A page may hold
    fewer than ``limit`` items and still have a ``next_token``: follow it.
    """

    model_config = ConfigDict(frozen=True)

    items: list[FleetDevice]
    next_token: str | None = None
    index: str | None = None
    scanned: bool = False
    note: str | None = None


class TelemetrySample(BaseModel):
    """One stored observation of a device (already redacted at the gateway)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    time: str
    metric: str
    value: float | None = None
    unit: str | None = None
    seq: int | None = None


class TelemetryPage(BaseModel):
    """One page of ``GET /devices/{device_uid}/telemetry``, oldest first.

    ``since`` .. ``until`` is the window read (bounded by ``MAX_TELEMETRY_WINDOW_S``);
    pass ``next_token`` back for the next page of the same window.
    """

    model_config = ConfigDict(frozen=True)

    device_uid: str
    since: str
    until: str
    items: list[TelemetrySample] = Field(default_factory=list)
    next_token: str | None = None
