"""The gateway heartbeat: spool depth, oldest age, delivery rate, devices, evictions.

Published to the cloud through the spool (priority above routine telemetry, so a
backlog does not hide the gateway's own state) and on the local bus for the
technician UI, which must work when the uplink is down.

A component that stops on purpose makes the heartbeat say so once
(``announce_maintenance``): a health item in state ``maintenance`` that names the
devices about to fall silent. Without it the cloud cannot tell a restart or a
deployment from the loss of every device, and raises an OFFLINE alert for each of
them whenever the restart outlasts the detectors' heartbeat (docs/detectors.md).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from wardlink.bus.port import EdgeBus
from wardlink.model import GatewayHealth
from wardlink.model.health import MAX_MAINTENANCE_DEVICES, GatewayState
from wardlink.spool import Spool
from wardlink.uplink.publisher import Publisher

log = logging.getLogger(__name__)

LOCAL_HEALTH_TOPIC = "wardlink/local/health"


class Heartbeat:
    def __init__(
        self,
        bus: EdgeBus,
        spool: Spool,
        publisher: Publisher,
        gateway_id: str,
        interval_s: float,
        connected_devices: Callable[[], int] = lambda: 0,
    ) -> None:
        self.bus = bus
        self.spool = spool
        self.publisher = publisher
        self.gateway_id = gateway_id
        self.interval_s = interval_s
        self.connected_devices = connected_devices
        self.started = time.monotonic()
        self.latest: GatewayHealth | None = None

    def snapshot(
        self,
        state: GatewayState = GatewayState.RUNNING,
        maintenance_devices: tuple[str, ...] = (),
    ) -> GatewayHealth:
        stats = self.spool.stats()
        counters = self.publisher.counters
        return GatewayHealth(
            gateway_id=self.gateway_id,
            at=datetime.now(UTC),
            uptime_s=round(time.monotonic() - self.started, 3),
            spool_depth=stats.depth,
            spool_bytes=stats.bytes,
            spool_oldest_age_s=round(stats.oldest_age_s, 3),
            delivered_total=counters.delivered,
            delivered_per_s=round(self.publisher.delivered_per_second, 3),
            evicted_total=stats.evicted_total,
            expired_total=stats.expired_total,
            dropped_total=stats.dropped_total,
            dropped_by_reason=stats.dropped_by_reason,
            spool_disk_full=stats.disk_full,
            quarantined_total=len(stats.quarantined),
            connected_devices=self.connected_devices(),
            uplink_connected=self.bus.uplink_connected,
            last_seq=stats.last_seq,
            state=state,
            maintenance_devices=maintenance_devices,
        )

    async def beat(self) -> GatewayHealth:
        health = await asyncio.to_thread(self.snapshot)
        await self._send(health)
        await asyncio.to_thread(self.spool.expire)
        return health

    async def announce_maintenance(self, devices: Iterable[str]) -> int | None:
        """Spool one health item in state ``maintenance`` naming ``devices``; its ``seq``.

        The cloud holds the offline alerts of these devices until it hears from them
        again in a record numbered after this one, or until its maintenance timer
        runs out. None if the spool did not take the item (full, or failing): then
        nothing is held and the cloud alerts as it would for a crash.
        """
        listed = tuple(sorted(set(devices)))[:MAX_MAINTENANCE_DEVICES]
        health = await asyncio.to_thread(self.snapshot, GatewayState.MAINTENANCE, listed)
        seq = await self._send(health)
        log.info(
            "maintenance announced",
            extra={"devices": len(listed), "seq": seq},
        )
        return seq

    async def _send(self, health: GatewayHealth) -> int | None:
        self.latest = health
        appended = await asyncio.to_thread(self.spool.append_health, health)
        self.publisher.notify()
        try:
            await self.bus.publish_local(LOCAL_HEALTH_TOPIC, health.to_json_bytes())
        except Exception as exc:
            log.warning("could not publish local health", extra={"error": str(exc)})
        return appended.last_seq

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.beat()
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.interval_s)
            except TimeoutError:
                pass
