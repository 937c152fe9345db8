"""The DeviceProxy component: every configured device, decoded, redacted, spooled.

This is the only Wardlink process that ever holds raw PHI. Its outputs are the
spool (sealed records only) and a local device-connectivity summary for the UI.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from wardlink.bus.greengrass_ipc import GreengrassIpcBus
from wardlink.bus.port import EdgeBus
from wardlink.codecs import DecodeContext, get_codec
from wardlink.gateway.device_worker import DeviceWorker
from wardlink.gateway.spool_writer import SpoolWriter
from wardlink.model import Connectivity, DeviceIdentity, PatientContext
from wardlink.phi.keys import GreengrassSecretSource, SecretSource
from wardlink.phi.policy import RedactionPolicy
from wardlink.profiles import DeviceProfile, find_profile
from wardlink.profiles.schema import BleTransportSpec, SerialTransportSpec, TcpTransportSpec
from wardlink.runtime.config import DeviceConfig, GatewayConfig
from wardlink.runtime.runner import Component
from wardlink.spool import Durability, Spool
from wardlink.transports import Transport
from wardlink.transports.serial import SerialSettings, SerialTransport
from wardlink.transports.tcp import TcpClientTransport, TcpListenerTransport, parse_networks

log = logging.getLogger(__name__)

LOCAL_DEVICES_TOPIC = "wardlink/local/devices"
DEFAULT_STATE_DIR = Path("var/state")  # per-device state such as the last RACP sequence
ANNOUNCE_INTERVAL_S = 5.0


def open_spool(config: GatewayConfig) -> Spool:
    return Spool(
        config.spool.path,
        max_bytes=config.spool.max_bytes,
        ttl_seconds=config.spool.ttl_seconds,
        durability=Durability(config.spool.durability),
    )


@dataclass(frozen=True)
class ResolvedDevice:
    """A configured device with its profile applied: everything a worker needs."""

    identity: DeviceIdentity
    codec: str
    transport: Transport
    expected_interval_s: float
    profile: DeviceProfile | None


def _serial_settings(device: DeviceConfig, profile: DeviceProfile | None) -> SerialSettings | None:
    base = (
        profile.transport.settings()
        if profile is not None and isinstance(profile.transport, SerialTransportSpec)
        else None
    )
    override = device.serial
    if override is None:
        return base
    if override.path is not None or override.usb_vid is not None:
        return SerialSettings(
            path=override.path,
            usb_vid=override.usb_vid,
            usb_pid=override.usb_pid,
            usb_serial_number=override.usb_serial_number,
            baudrate=override.baudrate or (base.baudrate if base else 9600),
        )
    if base is None:
        return None
    return replace(base, baudrate=override.baudrate or base.baudrate)


def build_transport(
    device: DeviceConfig, profile: DeviceProfile | None, state_dir: Path = DEFAULT_STATE_DIR
) -> Transport:
    """The transport backend for a device, from its profile and site overrides."""
    serial = _serial_settings(device, profile)
    if serial is not None:
        return SerialTransport(serial)
    spec = profile.transport if profile is not None else None
    if isinstance(spec, BleTransportSpec):
        from wardlink.gateway.ble_link import BleDeviceLink

        address = device.ble.address if device.ble else None
        return BleDeviceLink(spec, device.device_id, state_dir, address)
    if isinstance(spec, TcpTransportSpec):
        host = (device.tcp.host if device.tcp else None) or spec.host
        port = device.tcp.port if device.tcp and device.tcp.port is not None else spec.port
        if spec.role == "listen":
            return TcpListenerTransport(host, port, parse_networks(spec.allowed_peers))
        return TcpClientTransport(host, port)
    raise ValueError(f"device {device.device_id}: no supported transport configured")


def resolve_device(
    device: DeviceConfig,
    transport: Transport | None = None,
    state_dir: Path = DEFAULT_STATE_DIR,
) -> ResolvedDevice:
    profile = find_profile(device.profile) if device.profile else None
    codec = device.codec or (profile.codec if profile else None)
    model = device.model or (profile.model if profile else None)
    if codec is None or model is None:
        raise ValueError(f"device {device.device_id}: no codec or model")
    identity = DeviceIdentity(
        device_id=device.device_id,
        model=model,
        manufacturer=device.manufacturer or (profile.manufacturer if profile else "unknown"),
        serial_number=device.serial_number,
        firmware_version=device.firmware_version,
        profile=profile.name if profile else None,
    )
    interval = device.expected_interval_s or (profile.expected_interval_s if profile else 5.0)
    return ResolvedDevice(
        identity=identity,
        codec=codec,
        transport=transport or build_transport(device, profile, state_dir),
        expected_interval_s=interval,
        profile=profile,
    )


def build_worker(
    device: DeviceConfig,
    policy: RedactionPolicy,
    writer: SpoolWriter,
    patient: PatientContext | None = None,
    transport: Transport | None = None,
    state_dir: Path = DEFAULT_STATE_DIR,
) -> DeviceWorker:
    resolved = resolve_device(device, transport, state_dir)
    codec_class = get_codec(resolved.codec)
    profile = resolved.profile
    context = (
        profile.decode_context(device.device_id)
        if profile is not None
        else DecodeContext(device.device_id)
    )
    return DeviceWorker(
        resolved.identity,
        resolved.transport,
        codec_class(context),
        policy,
        writer,
        expected_interval_s=resolved.expected_interval_s,
        patient=patient,
        limits=profile.apply_limits if profile is not None else None,
    )


@dataclass
class _Running:
    config: DeviceConfig
    worker: DeviceWorker
    stop: asyncio.Event
    task: asyncio.Task[None]


class DeviceProxy(Component):
    """Runs one worker per configured device, and follows configuration changes.

    A configuration update (a new Greengrass deployment, or UpdateConfiguration)
    starts workers for new devices, stops removed ones and restarts changed ones,
    without touching the others: a bedside monitor keeps streaming while a glucose
    meter is added next door.
    """

    name = "com.wardlink.DeviceProxy"

    def __init__(
        self,
        policy: RedactionPolicy | None = None,
        on_appended: Callable[[], None] | None = None,
    ) -> None:
        self.policy = policy
        self.on_appended = on_appended
        self.writer: SpoolWriter | None = None
        self._running: dict[str, _Running] = {}
        self.state_dir = DEFAULT_STATE_DIR
        self._lock = asyncio.Lock()

    @property
    def workers(self) -> list[DeviceWorker]:
        return [r.worker for r in self._running.values()]

    def connected_devices(self) -> int:
        return sum(1 for w in self.workers if w.connectivity is Connectivity.CONNECTED)

    async def _load_policy(self, bus: EdgeBus, config: GatewayConfig) -> RedactionPolicy:
        if self.policy is not None:
            return self.policy
        return await load_policy(bus, config)

    async def run(self, bus: EdgeBus, config: GatewayConfig, stop: asyncio.Event) -> None:
        self.policy = await self._load_policy(bus, config)
        spool = open_spool(config)
        self.writer = SpoolWriter(spool, on_appended=self.on_appended)
        self.state_dir = config.spool.path.parent.parent / "state"
        writer_stop = asyncio.Event()
        background = [
            asyncio.create_task(self.writer.run(writer_stop)),
            asyncio.create_task(self._announce(bus, stop)),
        ]
        try:
            await self._apply(config.devices)
            await stop.wait()
        finally:
            async with self._lock:
                await self._stop_all()
            writer_stop.set()  # flush what the workers handed over, then close
            await asyncio.gather(*background, return_exceptions=True)
            spool.close()

    async def reconfigure(self, config: GatewayConfig) -> None:
        logging.getLogger().setLevel(config.log_level.upper())
        await self._apply(config.devices)

    async def _apply(self, devices: tuple[DeviceConfig, ...]) -> None:
        assert self.writer is not None and self.policy is not None
        wanted = {d.device_id: d for d in devices}
        async with self._lock:
            for device_id, running in list(self._running.items()):
                if wanted.get(device_id) != running.config:
                    await self._stop_one(device_id)
            for device_id, device in wanted.items():
                if device_id in self._running:
                    continue
                try:
                    worker = build_worker(
                        device, self.policy, self.writer, state_dir=self.state_dir
                    )
                except (ValueError, KeyError) as exc:
                    log.error(
                        "device not started", extra={"device_id": device_id, "error": str(exc)}
                    )
                    continue
                stop = asyncio.Event()
                task = asyncio.create_task(worker.run(stop), name=f"device-{device_id}")
                self._running[device_id] = _Running(device, worker, stop, task)
                log.info("device started", extra={"device_id": device_id})

    async def _stop_one(self, device_id: str) -> None:
        running = self._running.pop(device_id)
        running.stop.set()
        await asyncio.gather(running.task, return_exceptions=True)
        log.info("device stopped", extra={"device_id": device_id})

    async def _stop_all(self) -> None:
        for device_id in list(self._running):
            await self._stop_one(device_id)

    def device_announcement(self) -> bytes:
        assert self.policy is not None
        return device_announcement(self.policy, self.workers)

    async def _announce(self, bus: EdgeBus, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await bus.publish_local(LOCAL_DEVICES_TOPIC, self.device_announcement())
            except Exception as exc:
                log.debug("local device summary not published", extra={"error": str(exc)})
            try:
                await asyncio.wait_for(stop.wait(), timeout=ANNOUNCE_INTERVAL_S)
            except TimeoutError:
                pass


def device_announcement(policy: RedactionPolicy, workers: Iterable[DeviceWorker]) -> bytes:
    """The sealed description of every running device, as the policy allows it out.

    Published on ``wardlink/local/devices`` for the Uplink (registration) and the UI.
    """
    infos = [policy.redact_device(w.identity, w.connectivity).to_json_bytes() for w in workers]
    return b"[" + b",".join(infos) + b"]"


async def load_policy(bus: EdgeBus, config: GatewayConfig) -> RedactionPolicy:
    """The site's redaction policy: its file if configured, else the documented default.

    Pseudonym keys come from Greengrass SecretManager over IPC under Greengrass;
    elsewhere from the policy's ``hmac.secrets_dir``.
    """
    secrets: SecretSource | None = None
    if isinstance(bus, GreengrassIpcBus) and bus.ipc_client is not None:
        secrets = GreengrassSecretSource(bus.ipc_client)
    if config.policy_file is not None:
        return RedactionPolicy.from_file(config.policy_file, secrets=secrets)
    return RedactionPolicy.default(secrets=secrets)
