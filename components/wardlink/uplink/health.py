"""The gateway heartbeat: spool depth, oldest age, delivery rate, devices, evictions.

Published to the cloud through the spool (priority above routine telemetry, so a
backlog does not hide the gateway's own state) and on the local bus for the
technician UI, which must work when the uplink is down.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from wardlink.bus.port import EdgeBus
from wardlink.model import GatewayHealth
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

    def snapshot(self) -> GatewayHealth:
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
            quarantined_total=len(stats.quarantined),
            connected_devices=self.connected_devices(),
            uplink_connected=self.bus.uplink_connected,
            last_seq=stats.last_seq,
        )

    async def beat(self) -> GatewayHealth:
        health = await asyncio.to_thread(self.snapshot)
        self.latest = health
        await asyncio.to_thread(self.spool.append_health, health)
        await asyncio.to_thread(self.spool.expire)
        self.publisher.notify()
        try:
            await self.bus.publish_local(LOCAL_HEALTH_TOPIC, health.to_json_bytes())
        except Exception as exc:
            log.warning("could not publish local health", extra={"error": str(exc)})
        return health

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.beat()
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.interval_s)
            except TimeoutError:
                pass
