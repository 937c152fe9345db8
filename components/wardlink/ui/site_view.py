"""What the UI knows about the site, built only from what is published on the local bus.

The UI never reads a device or the spool itself. The DeviceProxy announces its
devices (``wardlink/local/devices``: sealed descriptions, faults, counters) and
the sealed observations it spooled (``wardlink/local/telemetry``); the Uplink
publishes the uplink and spool state (``wardlink/local/site``), and the
DeviceProxy what technicians changed on site (``wardlink/local/site-devices``:
devices added and removed, conflicts with the deployment, the profiles offered). All of it is the
output of the redaction policy, so the UI holds no raw PHI; of an observation it
keeps only the metric, value, unit, quality and time (no patient reference, no
annotation). Live updates go to server-sent-event listeners through bounded
queues: a slow browser loses updates, never the gateway's memory.

Memory is budgeted (50 devices at 1 Hz, ``benchmarks/bench_ui.py``): each metric's
recent values are two fixed-size ``array`` rings (16 bytes a point, not a tuple and
two floats), and an event is serialized once, for every listener, as the bytes of
its server-sent-event frame.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from array import array
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger(__name__)

DEVICES_TOPIC = "wardlink/local/devices"
TELEMETRY_TOPIC = "wardlink/local/telemetry"
SITE_TOPIC = "wardlink/local/site"
SITE_DEVICES_TOPIC = "wardlink/local/site-devices"
HISTORY = 120  # points per metric kept for the detail page's plot
QUEUE_SIZE = 256


class History:
    """The last ``size`` (time, value) points of a metric, in two fixed-size arrays."""

    __slots__ = ("_next", "_times", "_values", "size")

    def __init__(self, size: int = HISTORY) -> None:
        self.size = size
        self._times = array("d")
        self._values = array("d")
        self._next = 0  # where the next point goes once the rings are full

    def append(self, when: float, value: float) -> None:
        if len(self._times) < self.size:
            self._times.append(when)
            self._values.append(value)
            return
        self._times[self._next] = when
        self._values[self._next] = value
        self._next = (self._next + 1) % self.size

    def __len__(self) -> int:
        return len(self._times)

    def values(self) -> list[float]:
        """The values, oldest first."""
        at = self._next
        return [*self._values[at:], *self._values[:at]]

    def points(self) -> list[tuple[float, float]]:
        """(time, value) pairs, oldest first."""
        at = self._next
        return list(zip([*self._times[at:], *self._times[:at]], self.values(), strict=True))


@dataclass
class MetricValue:
    name: str
    value: float | None
    unit: str
    quality: str
    measured_at: str
    received: float  # wall clock when the UI got it
    history: History = field(default_factory=History)


@dataclass
class DeviceView:
    device_id: str
    info: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, MetricValue] = field(default_factory=dict)
    last_data: float = 0.0

    @property
    def state(self) -> str:
        if self.info.get("fault"):
            return "faulted"
        return str(self.info.get("connectivity", "unknown"))

    def why(self, now: float | None = None) -> str:
        """Why the device is in its state, in words a technician can act on."""
        current = time.time() if now is None else now
        fault = self.info.get("fault")
        counters = self.info.get("counters") or {}
        errors = int(counters.get("frame_errors", 0) or 0)
        suffix = f"; {errors} decode errors" if errors else ""
        if isinstance(fault, dict):
            codes = ", ".join(str(c) for c in fault.get("error_codes", ()))
            detail = fault.get("detail") or "no detail"
            retry = " (retrying)" if self.info.get("retrying") else " (until reconfigured)"
            return f"{codes}: {detail}{retry}{suffix}"
        state = self.state
        age = _age(self, current)
        if state == "connected":
            return (
                f"receiving data (last {age:.0f} s ago)" if age is not None else "link up"
            ) + suffix
        if state == "silent":
            expected = counters.get("expected_interval_s")
            told = f", expected every {float(expected):g} s" if expected else ""
            if age is None:
                return f"link up but no data yet{told}{suffix}"
            return f"no data for {age:.0f} s{told}{suffix}"
        if state == "disconnected":
            return "link down: device unplugged, out of range or switched off" + suffix
        return "no report yet" + suffix


def _age(device: DeviceView, now: float) -> float | None:
    counters = device.info.get("counters") or {}
    if counters.get("last_data_age_s") is not None:
        return float(counters["last_data_age_s"])
    return now - device.last_data if device.last_data else None


class SiteView:
    """The latest published state of the site, and the live listeners."""

    def __init__(self) -> None:
        self.devices: dict[str, DeviceView] = {}
        self.site: dict[str, Any] = {}
        self.site_received = 0.0
        self.site_devices: dict[str, Any] = {}
        self._listeners: set[asyncio.Queue[bytes]] = set()
        self.events_dropped = 0

    def device(self, device_id: str) -> DeviceView:
        view = self.devices.get(device_id)
        if view is None:
            view = self.devices[device_id] = DeviceView(device_id)
        return view

    def by_state(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for view in self.devices.values():
            counts[view.state] = counts.get(view.state, 0) + 1
        return dict(sorted(counts.items()))

    # -- from the bus ---------------------------------------------------------------

    def ingest(self, topic: str, payload: bytes) -> None:
        try:
            document = json.loads(payload)
            if topic == DEVICES_TOPIC:
                self._devices(document)
            elif topic == TELEMETRY_TOPIC:
                self._telemetry(document)
            elif topic == SITE_DEVICES_TOPIC and isinstance(document, dict):
                self.site_devices = document
            elif topic == SITE_TOPIC and isinstance(document, dict):
                self.site = document
                self.site_received = time.time()
                self._broadcast({"type": "site"})
        except (ValueError, TypeError, KeyError, AttributeError):
            log.warning("ignored malformed local message", extra={"topic": topic})

    def _devices(self, document: list[dict[str, Any]]) -> None:
        seen = set()
        for entry in document:
            if entry.get("maintenance"):
                continue
            device_id = str(entry["device_id"])
            seen.add(device_id)
            view = self.device(device_id)
            before = view.state
            view.info = dict(entry)
            if view.state != before:
                self._broadcast(self._state_event(view))
        for device_id in set(self.devices) - seen:
            if document:  # an empty summary (a proxy restarting) does not clear the list
                del self.devices[device_id]

    def _state_event(self, view: DeviceView) -> dict[str, Any]:
        return {"type": "state", "device": view.device_id, "state": view.state, "why": view.why()}

    def _telemetry(self, document: dict[str, Any]) -> None:
        now = time.time()
        for item in document.get("items", ()):
            if "mdc_name" not in item:
                continue
            view = self.device(str(item["device_id"]))
            name = str(item["mdc_name"])
            value = item.get("value")
            number = float(value) if isinstance(value, int | float) else None
            metric = view.metrics.get(name)
            if metric is None:
                metric = view.metrics[name] = MetricValue(name, None, "", "", "", now)
            metric.value, metric.unit = number, str(item.get("unit", ""))
            metric.quality, metric.measured_at = (
                str(item.get("quality", "")),
                str(item["measured_at"]),
            )
            metric.received = now
            if number is not None:
                metric.history.append(now, number)
            view.last_data = now
            self._broadcast(
                {
                    "type": "value",
                    "device": view.device_id,
                    "metric": name,
                    "value": number,
                    "unit": metric.unit,
                    "quality": metric.quality,
                    "measured_at": metric.measured_at,
                }
            )

    # -- to the browsers ------------------------------------------------------------

    def listen(self) -> asyncio.Queue[bytes]:
        """A queue of server-sent-event frames (``data: {...}\n\n``), shared bytes."""
        queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=QUEUE_SIZE)
        self._listeners.add(queue)
        return queue

    def unlisten(self, queue: asyncio.Queue[bytes]) -> None:
        self._listeners.discard(queue)

    @property
    def listeners(self) -> int:
        return len(self._listeners)

    def _broadcast(self, event: dict[str, Any]) -> None:
        if not self._listeners:
            return
        frame = b"data: " + json.dumps(event, separators=(",", ":")).encode() + b"\n\n"
        for queue in list(self._listeners):
            try:
                queue.put_nowait(frame)
            except asyncio.QueueFull:
                self.events_dropped += 1


def age_text(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def iso_age(iso: str, now: datetime | None = None) -> float | None:
    try:
        then = datetime.fromisoformat(iso)
    except ValueError:
        return None
    return ((now or datetime.now(UTC)) - then).total_seconds()
