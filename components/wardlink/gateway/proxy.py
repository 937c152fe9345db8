"""The DeviceProxy component: every configured device, decoded, redacted, spooled.

This is the only Wardlink process that ever holds raw PHI. Its outputs are the
spool (sealed records only) and a local device-connectivity summary for the UI.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable

from wardlink.bus.port import EdgeBus
from wardlink.codecs import DecodeContext, StreamCodec, get_codec
from wardlink.gateway.device_worker import DeviceWorker
from wardlink.gateway.spool_writer import SpoolWriter
from wardlink.model import Connectivity, DeviceIdentity, PatientContext
from wardlink.phi.policy import RedactionPolicy
from wardlink.runtime.config import DeviceConfig, GatewayConfig
from wardlink.runtime.runner import Component
from wardlink.spool import Durability, Spool
from wardlink.transports import Transport
from wardlink.transports.serial import SerialSettings, SerialTransport

log = logging.getLogger(__name__)

LOCAL_DEVICES_TOPIC = "wardlink/local/devices"


def open_spool(config: GatewayConfig) -> Spool:
    return Spool(
        config.spool.path,
        max_bytes=config.spool.max_bytes,
        ttl_seconds=config.spool.ttl_seconds,
        durability=Durability(config.spool.durability),
    )


def build_transport(device: DeviceConfig) -> Transport:
    if device.serial is not None:
        s = device.serial
        return SerialTransport(
            SerialSettings(
                path=s.path,
                usb_vid=s.usb_vid,
                usb_pid=s.usb_pid,
                usb_serial_number=s.usb_serial_number,
                baudrate=s.baudrate,
            )
        )
    raise ValueError(f"device {device.device_id}: no supported transport configured")


def build_worker(
    device: DeviceConfig,
    policy: RedactionPolicy,
    writer: SpoolWriter,
    patient: PatientContext | None = None,
    transport: Transport | None = None,
) -> DeviceWorker:
    codec_class = get_codec(device.codec)
    if not issubclass(codec_class, StreamCodec):
        raise ValueError(f"device {device.device_id}: codec {device.codec} is not a stream codec")
    identity = DeviceIdentity(
        device_id=device.device_id,
        model=device.model,
        manufacturer=device.manufacturer,
        serial_number=device.serial_number,
        firmware_version=device.firmware_version,
    )
    return DeviceWorker(
        identity,
        transport or build_transport(device),
        codec_class(DecodeContext(device.device_id)),
        policy,
        writer,
        expected_interval_s=device.expected_interval_s,
        patient=patient,
    )


class DeviceProxy(Component):
    name = "com.wardlink.DeviceProxy"

    def __init__(
        self,
        policy: RedactionPolicy | None = None,
        on_appended: Callable[[], None] | None = None,
    ) -> None:
        self.policy = policy or RedactionPolicy()
        self.on_appended = on_appended
        self.workers: list[DeviceWorker] = []
        self.writer: SpoolWriter | None = None

    def connected_devices(self) -> int:
        return sum(1 for w in self.workers if w.connectivity is Connectivity.CONNECTED)

    async def run(self, bus: EdgeBus, config: GatewayConfig, stop: asyncio.Event) -> None:
        spool = open_spool(config)
        self.writer = SpoolWriter(spool, on_appended=self.on_appended)
        self.workers = [build_worker(d, self.policy, self.writer) for d in config.devices]
        tasks = [asyncio.create_task(self.writer.run(stop))]
        tasks += [asyncio.create_task(w.run(stop)) for w in self.workers]
        tasks.append(asyncio.create_task(self._announce(bus, stop)))
        try:
            await asyncio.gather(*tasks)
        finally:
            spool.close()

    async def _announce(self, bus: EdgeBus, stop: asyncio.Event) -> None:
        while not stop.is_set():
            summary = {w.identity.device_id: w.connectivity.value for w in self.workers}
            try:
                await bus.publish_local(LOCAL_DEVICES_TOPIC, json.dumps(summary).encode())
            except Exception as exc:
                log.debug("local device summary not published", extra={"error": str(exc)})
            try:
                await asyncio.wait_for(stop.wait(), timeout=5)
            except TimeoutError:
                pass
