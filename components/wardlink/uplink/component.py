"""The Uplink component: drains the shared spool to IoT Core and sends the heartbeat.

It never sees raw data: the spool holds sealed records only, so a bug here can
lose or duplicate telemetry but cannot leak PHI.

With a cloud API configured it registers the proxy's devices and, when its spool
lost its numbering, asks the cloud where ``seq`` stands. Those calls go through
``WardlinkApiClient.for_gateway``: the awscrt backend, signed with the token
exchange service's credentials, so the API costs no botocore, urllib3 or OpenSSL
in this process (the gateway's 45 MB budget); the client is made, and its modules
imported, at the first call.

It also tells the cloud when the gateway stops on purpose. A graceful stop of the
Uplink, or the DeviceProxy announcing its own (its last device summary marks every
device ``"maintenance": true``), spools one health item in state ``maintenance``
naming the devices. The detectors then hold the OFFLINE alerts that a restart or a
deployment would otherwise raise for every device, for as long as their
maintenance timer allows; a crash says nothing, and alerts as before.

And it relays the gateway UI's redacted audit copies to IoT Core (``audit_relay``).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable

from wardlink.bus.port import EdgeBus, LocalMessage
from wardlink.runtime.config import GatewayConfig
from wardlink.runtime.runner import Component
from wardlink.spool import Durability, Spool
from wardlink.uplink.audit_relay import AuditRelay
from wardlink.uplink.health import Heartbeat
from wardlink.uplink.limits import UplinkLimits
from wardlink.uplink.publisher import Publisher
from wardlink.uplink.registrar import DeviceRegistrar
from wardlink.uplink.sequence import anchor_spool

log = logging.getLogger(__name__)


def limits_from(config: GatewayConfig) -> UplinkLimits:
    u = config.uplink
    return UplinkLimits(
        max_publishes_per_second=u.max_publishes_per_second,
        max_bytes_per_second=u.max_bytes_per_second,
        max_in_flight=u.max_in_flight,
    )


def make_registrar(config: GatewayConfig) -> DeviceRegistrar:
    api = config.api
    assert api is not None

    def client() -> object:
        from wardlink.cloudclient import WardlinkApiClient

        return WardlinkApiClient.for_gateway(api.url, api.region)

    return DeviceRegistrar(client, config.gateway_id, api.site_id)


def last_acknowledged_from(config: GatewayConfig) -> Callable[[], int] | None:
    """How to ask the API for the gateway's last stored ``seq``; None without an API."""
    api = config.api
    if api is None:
        return None

    def ask() -> int:
        from wardlink.cloudclient import WardlinkApiClient

        client = WardlinkApiClient.for_gateway(api.url, api.region)
        return client.last_acknowledged_seq(config.gateway_id)

    return ask


class Uplink(Component):
    name = "com.wardlink.Uplink"

    def __init__(self) -> None:
        self.publisher: Publisher | None = None
        self.heartbeat: Heartbeat | None = None
        self._devices: dict[str, str] = {}
        self.registrar: DeviceRegistrar | None = None
        self._stopping = False

    async def _on_devices(self, message: LocalMessage) -> None:
        try:
            announced = json.loads(message.payload)
            self._devices = {str(d["device_id"]): str(d["connectivity"]) for d in announced}
            stopping = [str(d["device_id"]) for d in announced if d.get("maintenance") is True]
        except (ValueError, TypeError, KeyError, AttributeError):
            log.warning("ignored malformed device announcement")
            return
        if stopping and self.heartbeat is not None and not self._stopping:
            # The DeviceProxy is stopping on purpose while we keep running.
            await self.heartbeat.announce_maintenance(stopping)
        if self.registrar is not None:
            await self.registrar.on_local_devices(message)

    async def reconfigure(self, config: GatewayConfig) -> None:
        """Rate limits and heartbeat period apply at once; the spool path needs a restart."""
        logging.getLogger().setLevel(config.log_level.upper())
        if self.publisher is not None:
            self.publisher.apply_limits(limits_from(config))
        if self.heartbeat is not None:
            self.heartbeat.interval_s = config.uplink.heartbeat_seconds
        log.info("uplink configuration applied")

    async def run(self, bus: EdgeBus, config: GatewayConfig, stop: asyncio.Event) -> None:
        spool = Spool(
            config.spool.path,
            max_bytes=config.spool.max_bytes,
            ttl_seconds=config.spool.ttl_seconds,
            durability=Durability(config.spool.durability),
            group=config.spool.group,
        )
        self.publisher = Publisher(bus, spool, config.gateway_id, limits_from(config))
        self.heartbeat = Heartbeat(
            bus,
            spool,
            self.publisher,
            config.gateway_id,
            config.uplink.heartbeat_seconds,
            connected_devices=lambda: sum(1 for v in self._devices.values() if v == "connected"),
        )
        if config.api is not None:
            self.registrar = make_registrar(config)
        try:
            await bus.subscribe_local("wardlink/local/devices", self._on_devices)
        except Exception as exc:
            log.warning("no local device summary", extra={"error": str(exc)})
        inner_stop = asyncio.Event()
        tasks = [
            asyncio.create_task(self._publish(spool, config, inner_stop)),
            asyncio.create_task(self.heartbeat.run(inner_stop)),
        ]
        if self.registrar is not None:
            tasks.append(asyncio.create_task(self.registrar.run(inner_stop)))
        from wardlink.uplink.site_state import SiteStatePublisher

        audit = AuditRelay(bus, config.gateway_id)
        try:
            await audit.attach()
            tasks.append(asyncio.create_task(audit.run(inner_stop)))
        except Exception as exc:
            log.warning("no audit copies from the UI", extra={"error": str(exc)})
        site_state = SiteStatePublisher(bus, spool, self.publisher, config.gateway_id, audit=audit)
        tasks.append(asyncio.create_task(site_state.run(inner_stop)))
        await stop.wait()
        self._stopping = True
        inner_stop.set()
        await asyncio.gather(*tasks)
        # Graceful stop: announce maintenance, then give what is spooled up to the
        # announcement a bounded chance to leave (anything newer waits for our return).
        notice = await self.heartbeat.announce_maintenance(self._devices)
        drained = spool.sequence_anchored and await self.publisher.drain(
            config.uplink.drain_timeout_seconds, through_seq=notice
        )  # an unanchored spool publishes nothing: its numbers may repeat the cloud's
        log.info("uplink stopped", extra={"drained": drained, "left": spool.stats().depth})
        spool.close()

    async def _publish(self, spool: Spool, config: GatewayConfig, stop: asyncio.Event) -> None:
        """Publish, once the spool's numbering follows what the cloud already holds."""
        assert self.publisher is not None
        if await anchor_spool(spool, last_acknowledged_from(config), stop):
            await self.publisher.run(stop)
