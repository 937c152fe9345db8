"""The sealed observations the DeviceProxy spooled, republished on the local bus for the UI.

The technician's UI shows live values, but it must not read devices, the spool,
or anything unsealed. So the DeviceProxy hands a copy of every sealed item it
gives the spool writer to this feed, which publishes them in small batches
(at most every ``period_s``, at most ``max_items`` per message; the newest win
when a burst is larger) on ``wardlink/local/telemetry``. What it publishes is
exactly what the redaction policy let out to the cloud. A recipe that does not
grant the topic costs one warning, not a log line per batch (``QuietPublisher``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque

from wardlink.bus.port import EdgeBus
from wardlink.bus.quiet import QuietPublisher
from wardlink.model import RecordKind, RedactedDeviceStatus, RedactedObservation

LOCAL_TELEMETRY_TOPIC = "wardlink/local/telemetry"


class LocalFeed:
    """Buffers sealed items and publishes them on ``LOCAL_TELEMETRY_TOPIC``."""

    def __init__(self, period_s: float = 0.25, max_items: int = 500) -> None:
        self.period_s = period_s
        self._items: deque[bytes] = deque(maxlen=max_items)
        self.published = 0
        self.out = QuietPublisher(LOCAL_TELEMETRY_TOPIC)

    def put(
        self, kind: RecordKind, items: list[RedactedObservation | RedactedDeviceStatus]
    ) -> None:
        if kind is RecordKind.TELEMETRY:
            self._items.extend(item.to_json_bytes() for item in items)

    def take(self) -> bytes | None:
        """The next message, or None when nothing is waiting."""
        if not self._items:
            return None
        items = list(self._items)
        self._items.clear()
        return b'{"items":[' + b",".join(items) + b"]}"

    async def run(self, bus: EdgeBus, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.period_s)
            payload = self.take()
            if payload is None:
                continue
            if await self.out.publish(bus, payload):  # else the UI misses a few values
                self.published += 1
