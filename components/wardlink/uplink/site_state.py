"""The uplink's state, published on the local bus for the technician's UI.

The UI cannot open the spool (it is the Uplink's and the DeviceProxy's) and has
no cloud connection; it learns whether the uplink is up, when it last
published, how deep and old the spool is and how many audit copies it dropped from this message on
``wardlink/local/site``, every ``period_s`` seconds. Numbers only. A recipe
that does not grant the topic costs one warning, then back-off (``QuietPublisher``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import UTC, datetime

from wardlink.bus.port import EdgeBus
from wardlink.bus.quiet import QuietPublisher
from wardlink.spool import Spool
from wardlink.uplink.audit_relay import AuditRelay
from wardlink.uplink.publisher import Publisher

LOCAL_SITE_TOPIC = "wardlink/local/site"


class SiteStatePublisher:
    def __init__(
        self,
        bus: EdgeBus,
        spool: Spool,
        publisher: Publisher,
        gateway_id: str,
        period_s: float = 2.0,
        audit: AuditRelay | None = None,
    ) -> None:
        self.bus = bus
        self.spool = spool
        self.publisher = publisher
        self.gateway_id = gateway_id
        self.period_s = period_s
        self.audit = audit
        self._messages = 0
        self._last_publish: datetime | None = None
        self.out = QuietPublisher(LOCAL_SITE_TOPIC)

    def snapshot(self) -> bytes:
        counters = self.publisher.counters
        if counters.messages != self._messages:
            self._messages = counters.messages
            self._last_publish = datetime.now(UTC)
        stats = self.spool.stats()
        state = {
            "gateway_id": self.gateway_id,
            "uplink_connected": self.bus.uplink_connected,
            "last_publish_at": self._last_publish.isoformat() if self._last_publish else None,
            "spool_depth": stats.depth,
            "spool_oldest_age_s": round(stats.oldest_age_s, 1),
            "spool_bytes": stats.bytes,
            "spool_lost_total": stats.dropped_total + stats.evicted_total + stats.expired_total,
            "delivered": counters.delivered,
            "publish_failures": counters.failures,
        }
        if self.audit is not None:
            state["audit_dropped"] = self.audit.dropped
        return json.dumps(state, separators=(",", ":")).encode()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.out.publish(self.bus, self.snapshot())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.period_s)
