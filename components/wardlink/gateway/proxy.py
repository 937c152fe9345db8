"""The DeviceProxy component: every configured device, decoded, redacted, spooled.

This is the only Wardlink process that ever holds raw PHI. Its outputs are the
spool (sealed records only) and a local device summary for the Uplink and the UI.

Each device runs under its own supervisor, so that one device can never take the
others, or the component, down with it. A device that cannot start - its port is
missing, the Bluetooth library cannot be imported, its profile or codec does not
exist - or whose pipeline fails later becomes a *faulted device with a reason*
(``wardlink.gateway.faults``): one log line, a sealed alert status in the spool,
and an entry in the local device summary, while every other device keeps
running. Faults that time can mend (a port that appears when the adapter is
plugged in) are retried with backoff; a configuration that cannot work stays
faulted until the configuration changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from wardlink.bus.greengrass_ipc import GreengrassIpcBus
from wardlink.bus.port import EdgeBus
from wardlink.codecs import DecodeContext, get_codec
from wardlink.codecs.registry import CodecClass
from wardlink.gateway.commands import CommandService, SiteOverlay
from wardlink.gateway.device_worker import DeviceWorker
from wardlink.gateway.faults import (
    RUN_RULES,
    SETUP_RULES,
    DeviceFault,
    DeviceSetupError,
    FaultCause,
    diagnose,
    link_ended,
)
from wardlink.gateway.local_feed import LocalFeed
from wardlink.gateway.site_devices import SITE_DEVICES_TOPIC, DeviceOverlay, SiteDevices
from wardlink.gateway.spool_writer import SpoolWriter
from wardlink.model import Connectivity, DeviceIdentity, PatientContext, RecordKind
from wardlink.phi.keys import GreengrassSecretSource, SecretSource
from wardlink.phi.logfilter import keep_readable
from wardlink.phi.policy import RedactionPolicy
from wardlink.profiles import DeviceProfile, find_profile
from wardlink.profiles.schema import (
    CODEC_NAME_PATTERN,
    BleTransportSpec,
    SerialTransportSpec,
    TcpTransportSpec,
    UsbSelector,
)
from wardlink.runtime.config import DeviceConfig, GatewayConfig
from wardlink.runtime.runner import Component
from wardlink.spool import Durability, Spool
from wardlink.transports import Backoff, Transport
from wardlink.transports.base import sleep_backoff
from wardlink.transports.serial import SerialSettings, SerialTransport

log = logging.getLogger(__name__)

LOCAL_DEVICES_TOPIC = "wardlink/local/devices"
DEFAULT_STATE_DIR = Path("var/state")  # per-device state such as the last RACP sequence
ANNOUNCE_INTERVAL_S = 5.0
ANNOUNCE_MIN_GAP_S = 0.5  # a device flapping between states re-announces at most this often
RESTART_BACKOFF = Backoff(initial=1.0, maximum=60.0)  # a faulted device's next attempt
RECOVERY_POLL_S = 0.25  # how often a retried device's link is checked while it is faulted


def open_spool(config: GatewayConfig) -> Spool:
    return Spool(
        config.spool.path,
        max_bytes=config.spool.max_bytes,
        ttl_seconds=config.spool.ttl_seconds,
        durability=Durability(config.spool.durability),
        group=config.spool.group,
    )


# -- from site configuration to a running worker ----------------------------------------


@dataclass(frozen=True)
class ResolvedDevice:
    """A configured device with its profile applied: everything a worker needs."""

    identity: DeviceIdentity
    codec: str
    transport: Transport
    expected_interval_s: float
    profile: DeviceProfile | None


def _profile(device: DeviceConfig) -> DeviceProfile | None:
    return find_profile(device.profile) if device.profile else None


def _codec_name(device: DeviceConfig, profile: DeviceProfile | None) -> str | None:
    return device.codec or (profile.codec if profile else None)


def _codec_class(name: str) -> CodecClass:
    try:
        return get_codec(name)
    except KeyError:
        if re.fullmatch(CODEC_NAME_PATTERN, name):
            # A codec name the site configuration chose (its shape is the schema's),
            # never a patient's: keep it readable in the log, as registered names are.
            keep_readable(name)
        raise DeviceSetupError(FaultCause.CODEC_UNKNOWN, f"unknown codec {name!r}") from None


def _identity(device: DeviceConfig, profile: DeviceProfile | None, model: str) -> DeviceIdentity:
    return DeviceIdentity(
        device_id=device.device_id,
        model=model,
        manufacturer=device.manufacturer or (profile.manufacturer if profile else "unknown"),
        serial_number=device.serial_number,
        firmware_version=device.firmware_version,
        profile=profile.name if profile else None,
    )


def describe_device(device: DeviceConfig) -> DeviceIdentity:
    """Who a device is, as far as its configuration tells, even if it cannot start.

    Used to report a faulted device: an unknown profile or an odd model name must
    not stop the report of the fault itself.
    """
    try:
        profile = _profile(device)
    except Exception:
        profile = None
    model = device.model or (profile.model if profile else None) or "unknown"
    try:
        return _identity(device, profile, model)
    except ValueError:
        return DeviceIdentity(device_id=device.device_id, model="unknown")


def _site_port(device: DeviceConfig) -> UsbSelector | str | None:
    """Where the site says this unit is plugged in, if it says so."""
    site = device.serial
    if site is None or (site.path is None and site.usb_vid is None):
        return None
    if site.path is not None:
        return site.path
    if site.usb_pid is None:
        raise DeviceSetupError(
            FaultCause.CONFIGURATION_INVALID, "serial.usbVid is given without serial.usbPid"
        )
    return UsbSelector(vid=site.usb_vid, pid=site.usb_pid, serial_number=site.usb_serial_number)


def _serial_settings(device: DeviceConfig, profile: DeviceProfile | None) -> SerialSettings | None:
    """Serial settings: the profile's line settings at the site's port (None: not serial)."""
    spec = profile.transport if profile is not None else None
    if not isinstance(spec, SerialTransportSpec):
        if device.serial is None:
            return None
        spec = SerialTransportSpec(kind="serial")  # no serial profile: 9600 8N1 at the site's port
    baudrate = device.serial.baudrate if device.serial else None
    return spec.settings(_site_port(device), baudrate)


def _ble_link(
    device: DeviceConfig, spec: BleTransportSpec, state_dir: Path, retry_first_open: bool
) -> Transport:
    address = device.ble.address if device.ble else None
    if not address and not spec.address_allow_list:
        raise DeviceSetupError(
            FaultCause.CONFIGURATION_INVALID,
            "no Bluetooth address: set ble.address in the device's configuration"
            " (the profile accepts no device by itself)",
        )
    from wardlink.gateway.ble_link import BleDeviceLink  # imports bleak: BLE gateways only

    return BleDeviceLink(spec, device.device_id, state_dir, address, retry_first_open)


def _tcp_transport(device: DeviceConfig, spec: TcpTransportSpec) -> Transport:
    from wardlink.transports.tcp import TcpClientTransport, TcpListenerTransport, parse_networks

    site = device.tcp
    host = (site.host if site else None) or spec.host
    port = site.port if site and site.port is not None else spec.port
    if spec.role == "client":
        return TcpClientTransport(host, port)
    peers = site.allowed_peers if site and site.allowed_peers is not None else spec.allowed_peers
    return TcpListenerTransport(host, port, parse_networks(peers))


def build_transport(
    device: DeviceConfig,
    profile: DeviceProfile | None,
    state_dir: Path = DEFAULT_STATE_DIR,
    retry_first_open: bool = True,
) -> Transport:
    """The transport backend for a device, from its profile and site overrides.

    ``retry_first_open=False``: a serial port that cannot be opened the first time,
    or a Bluetooth stack that cannot scan before the first connection, raises from
    the transport's reading instead of being retried in silence.
    """
    serial = _serial_settings(device, profile)
    if serial is not None:
        return SerialTransport(serial, retry_first_open=retry_first_open)
    spec = profile.transport if profile is not None else None
    if isinstance(spec, BleTransportSpec):
        return _ble_link(device, spec, state_dir, retry_first_open)
    if isinstance(spec, TcpTransportSpec):
        return _tcp_transport(device, spec)
    raise DeviceSetupError(
        FaultCause.CONFIGURATION_INVALID,
        f"device {device.device_id}: no supported transport configured",
    )


def resolve_device(
    device: DeviceConfig,
    transport: Transport | None = None,
    state_dir: Path = DEFAULT_STATE_DIR,
    retry_first_open: bool = True,
) -> ResolvedDevice:
    """Apply the profile and check the codec; the transport is built last, once all is known."""
    profile = _profile(device)
    codec = _codec_name(device, profile)
    model = device.model or (profile.model if profile else None)
    if codec is None or model is None:
        raise DeviceSetupError(
            FaultCause.CONFIGURATION_INVALID, f"device {device.device_id}: no codec or model"
        )
    _codec_class(codec)
    identity = _identity(device, profile, model)
    interval = device.expected_interval_s or (profile.expected_interval_s if profile else 5.0)
    return ResolvedDevice(
        identity=identity,
        codec=codec,
        transport=transport or build_transport(device, profile, state_dir, retry_first_open),
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
    retry_first_open: bool = True,
) -> DeviceWorker:
    resolved = resolve_device(device, transport, state_dir, retry_first_open)
    codec_class = _codec_class(resolved.codec)
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


# -- the component ----------------------------------------------------------------------


@dataclass
class _Device:
    """One configured device under supervision: its worker while it runs, its fault while
    it cannot (both while a faulted device is being retried)."""

    config: DeviceConfig
    identity: DeviceIdentity
    codec: str | None
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    worker: DeviceWorker | None = None
    fault: DeviceFault | None = None

    @property
    def device_id(self) -> str:
        return self.config.device_id


def _device_entry(device: DeviceConfig) -> _Device:
    identity = describe_device(device)
    try:
        codec = _codec_name(device, _profile(device))
    except Exception:
        codec = device.codec
    return _Device(device, identity, codec)


class DeviceProxy(Component):
    """Runs one supervised worker per configured device, and follows configuration changes.

    A configuration update (a new Greengrass deployment, or UpdateConfiguration)
    starts workers for new devices, stops removed ones and restarts changed ones,
    without touching the others: a bedside monitor keeps streaming while a glucose
    meter is added next door. A device that cannot run is reported faulted and
    never stops the others.
    """

    name = "com.wardlink.DeviceProxy"

    def __init__(
        self,
        policy: RedactionPolicy | None = None,
        on_appended: Callable[[], None] | None = None,
        restart_backoff: Backoff = RESTART_BACKOFF,
    ) -> None:
        self.policy = policy
        self.on_appended = on_appended
        self.restart_backoff = restart_backoff
        self.writer: SpoolWriter | None = None
        self._devices: dict[str, _Device] = {}
        self.state_dir = DEFAULT_STATE_DIR
        self._lock = asyncio.Lock()
        self._announce_now = asyncio.Event()
        self.feed = LocalFeed()
        self.commands: CommandService | None = None
        self.overlay: SiteOverlay | None = None
        self.site_devices: SiteDevices | None = None

    @property
    def workers(self) -> list[DeviceWorker]:
        return [d.worker for d in self._devices.values() if d.worker is not None]

    @property
    def faults(self) -> dict[str, DeviceFault]:
        """The devices that are configured but not running, and why."""
        return {d.device_id: d.fault for d in self._devices.values() if d.fault is not None}

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
        self.writer.taps.append(self.feed.put)
        self.overlay = SiteOverlay(self.state_dir / "site-overlay.json")
        self.site_devices = SiteDevices(
            DeviceOverlay(self.state_dir / "site-devices.json"),
            self._apply,
            self._worker_of,
            self._announce_now.set,
        )
        await self._attach_commands(bus, config)
        writer_stop = asyncio.Event()
        background = [
            asyncio.create_task(self.writer.run(writer_stop)),
            asyncio.create_task(self._announce(bus, stop)),
            asyncio.create_task(self.feed.run(bus, stop)),
        ]
        try:
            await self.site_devices.deploy(config.devices)
            await stop.wait()
        finally:
            async with self._lock:
                stopping = [entry.identity for entry in self._devices.values()]
                await self._stop_all()
            writer_stop.set()  # flush what the workers handed over, then close
            background[1].cancel()  # the summary loop ends with ``stop``, a cancelled run never
            background[2].cancel()
            await asyncio.gather(*background, return_exceptions=True)
            if stop.is_set():  # asked to stop, not failing: the devices' silence is planned
                await self._announce_maintenance(bus, stopping)
            spool.close()

    async def _attach_commands(self, bus: EdgeBus, config: GatewayConfig) -> None:
        """Accept the UI's signed commands if the command key is in the secret store."""
        try:
            key = await bus.get_secret(config.ui.command_key_secret)
            assert self.overlay is not None
            self.commands = CommandService(
                key,
                self.overlay,
                self.state_dir / "commands-audit.jsonl",
                known=lambda device_id: device_id in self._devices,
                reconnect=self.reconnect,
                devices=self.site_devices,
            )
            await self.commands.attach(bus)
        except Exception as exc:
            log.info(
                "no command key: local commands from the UI are off",
                extra={"secret": config.ui.command_key_secret, "error": type(exc).__name__},
            )

    def _worker_of(self, device_id: str) -> DeviceWorker | None:
        entry = self._devices.get(device_id)
        return entry.worker if entry is not None else None

    async def reconnect(self, device_id: str) -> str:
        """Stop the device's worker and start it again (its link is opened afresh)."""
        async with self._lock:
            entry = self._devices.get(device_id)
            if entry is None:
                return f"no device {device_id}"
            await self._stop_one(device_id)
            self._start_one(entry.config)
        return "worker restarted; the link is being opened again"

    async def _announce_maintenance(self, bus: EdgeBus, devices: list[DeviceIdentity]) -> None:
        """The last device summary of a graceful stop: every device marked as maintenance.

        Sent after the spool writer has flushed, so that the Uplink's maintenance
        notice is numbered after everything these devices said. Without it the cloud
        sees only the devices falling silent, as if each had been lost.
        """
        if not devices or self.policy is None:
            return
        try:
            payload = maintenance_announcement(self.policy, devices)
            await bus.publish_local(LOCAL_DEVICES_TOPIC, payload)
        except Exception as exc:  # the stop goes on; the cloud then alerts as for a crash
            log.warning("maintenance not announced", extra={"error": str(exc)})
            return
        log.info("maintenance announced", extra={"devices": len(devices)})

    async def reconfigure(self, config: GatewayConfig) -> None:
        logging.getLogger().setLevel(config.log_level.upper())
        if self.site_devices is not None:  # the deployment, merged with the site's changes
            await self.site_devices.deploy(config.devices)
        else:
            await self._apply(config.devices)

    async def _apply(self, devices: tuple[DeviceConfig, ...]) -> None:
        assert self.writer is not None and self.policy is not None
        wanted = {d.device_id: d for d in devices}
        async with self._lock:
            for device_id, running in list(self._devices.items()):
                if wanted.get(device_id) != running.config:
                    await self._stop_one(device_id)
            for device_id, device in wanted.items():
                if device_id not in self._devices:
                    self._start_one(device)

    def _start_one(self, device: DeviceConfig) -> None:
        entry = _device_entry(device)
        entry.task = asyncio.create_task(self._supervise(entry), name=f"device-{entry.device_id}")
        self._devices[entry.device_id] = entry

    async def _stop_one(self, device_id: str) -> None:
        entry = self._devices.pop(device_id)
        entry.stop.set()
        if entry.task is not None:
            await asyncio.gather(entry.task, return_exceptions=True)
        self._announce_now.set()
        log.info("device stopped", extra={"device_id": device_id})

    async def _stop_all(self) -> None:
        for device_id in list(self._devices):
            await self._stop_one(device_id)

    # -- supervision -----------------------------------------------------------------

    async def _supervise(self, entry: _Device) -> None:
        """Run the device until it is stopped; a failure becomes a fault, retried or kept."""
        attempt = 0
        try:
            while not entry.stop.is_set():
                fault = await self._run_device(entry)
                if fault is None:
                    return
                if entry.fault is None:
                    attempt = 0  # it was running (or had recovered) before this failure
                self._report_fault(entry, fault)
                if not fault.retry:
                    return  # stays faulted until its configuration changes
                if not await sleep_backoff(self.restart_backoff, attempt, entry.stop):
                    return
                attempt += 1
        except Exception:  # a bug here must not go unnoticed, nor reach the other devices
            log.exception("device supervisor failed", extra={"device_id": entry.device_id})

    async def _run_device(self, entry: _Device) -> DeviceFault | None:
        """Build and run the device's worker once; None when it was stopped on purpose."""
        assert self.writer is not None and self.policy is not None
        try:
            worker = build_worker(
                entry.config,
                self.policy,
                self.writer,
                state_dir=self.state_dir,
                retry_first_open=False,
            )
        except Exception as exc:
            return diagnose(entry.device_id, exc, SETUP_RULES)
        entry.worker, entry.identity = worker, worker.identity
        worker.on_connectivity = self._connectivity_changed
        worker.location = self.overlay.location if self.overlay is not None else None
        if entry.fault is None:
            log.info("device started", extra={"device_id": entry.device_id})
        try:
            await self._run_worker(entry, worker)
        except Exception as exc:
            log.debug("device pipeline failed", exc_info=True, extra={"device_id": entry.device_id})
            return diagnose(entry.device_id, exc, RUN_RULES)
        finally:
            entry.worker = None
        return None if entry.stop.is_set() else link_ended(entry.device_id)

    async def _run_worker(self, entry: _Device, worker: DeviceWorker) -> None:
        """Run the worker; a faulted device counts as recovered once its link is up."""
        task = asyncio.create_task(worker.run(entry.stop), name=f"worker-{entry.device_id}")
        try:
            while entry.fault is not None and not task.done():
                await asyncio.wait({task}, timeout=RECOVERY_POLL_S)
                if worker.transport.connected:
                    self._recovered(entry)
            await task
        finally:
            if not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    def _report_fault(self, entry: _Device, fault: DeviceFault) -> None:
        """Log, spool and announce a new fault; a retry failing the same way stays quiet."""
        if fault.same_as(entry.fault):
            log.debug("device still faulted", extra={"device_id": entry.device_id})
            return
        entry.fault = fault
        log.error(
            "device %s faulted (%s) profile=%s codec=%s: %s; %s",
            entry.device_id,
            fault.code,
            entry.config.profile,
            entry.codec,
            fault.reason,
            "retrying with backoff" if fault.retry else "kept until its configuration changes",
            extra={
                "device_id": entry.device_id,
                "profile": entry.config.profile,
                "codec": entry.codec,
                "fault": fault.code,
                "retry": fault.retry,
            },
        )
        self._spool_fault(entry, fault)
        self._announce_now.set()

    def _spool_fault(self, entry: _Device, fault: DeviceFault) -> None:
        """The fault as a sealed alert status, the path every device status takes."""
        assert self.writer is not None and self.policy is not None
        try:
            sealed = self.policy.redact_status(fault.status(), entry.identity)
        except Exception as exc:  # fail closed: nothing leaves that the policy did not seal
            log.warning(
                "device fault not spooled",
                extra={"device_id": entry.device_id, "error": type(exc).__name__},
            )
            return
        self.writer.put(RecordKind.ALERT, [sealed])

    def _connectivity_changed(self, _state: Connectivity) -> None:
        self._announce_now.set()

    def _recovered(self, entry: _Device) -> None:
        fault, entry.fault = entry.fault, None
        log.info(
            "device recovered",
            extra={"device_id": entry.device_id, "fault": fault.code if fault else None},
        )
        self._announce_now.set()

    # -- the local device summary ----------------------------------------------------

    def device_announcement(self) -> bytes:
        assert self.policy is not None
        running = [e.worker for e in self._devices.values() if e.fault is None and e.worker]
        faulted = [(e.identity, e.fault) for e in self._devices.values() if e.fault is not None]
        return device_announcement(self.policy, running, faulted)

    async def _announce(self, bus: EdgeBus, stop: asyncio.Event) -> None:
        """Publish the summary every few seconds, and soon after a device changes state."""
        while not stop.is_set():
            self._announce_now.clear()
            try:
                await bus.publish_local(LOCAL_DEVICES_TOPIC, self.device_announcement())
                if self.site_devices is not None:
                    await bus.publish_local(SITE_DEVICES_TOPIC, self.site_devices.state())
            except Exception as exc:
                log.debug("local device summary not published", extra={"error": str(exc)})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=ANNOUNCE_MIN_GAP_S)
            await _first_of(stop, self._announce_now, ANNOUNCE_INTERVAL_S - ANNOUNCE_MIN_GAP_S)


async def _first_of(first: asyncio.Event, second: asyncio.Event, timeout: float) -> None:
    """Wait until either event is set, or ``timeout`` seconds."""
    waiters = {asyncio.ensure_future(first.wait()), asyncio.ensure_future(second.wait())}
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


def device_announcement(
    policy: RedactionPolicy,
    workers: Iterable[DeviceWorker],
    faulted: Iterable[tuple[DeviceIdentity, DeviceFault]] = (),
) -> bytes:
    """The sealed description of every configured device, as the policy allows it out.

    Published on ``wardlink/local/devices`` for the Uplink (registration) and the UI.
    """
    infos = [
        _with_counters(
            policy.redact_device(w.identity, w.connectivity, _assigned(w)).to_json_bytes(), w
        )
        for w in workers
    ]
    infos += [fault_announcement(policy, identity, fault) for identity, fault in faulted]
    return b"[" + b",".join(infos) + b"]"


def _assigned(worker: DeviceWorker) -> Mapping[str, str] | None:
    """The device's site-assigned location (the overlay), for the policy to cut down."""
    return worker.location(worker.identity.device_id) if worker.location is not None else None


def _with_counters(info: bytes, worker: DeviceWorker) -> bytes:
    """A running device's entry with its counters (numbers only), for the UI's *why*."""
    counters = worker.counters
    last = counters.last_data_at
    numbers = {
        "acquired": counters.acquired,
        "frame_errors": counters.frame_errors,
        "expected_interval_s": worker.expected_interval_s,
        "last_data_age_s": round(time.monotonic() - last, 1) if last else None,
    }
    return info[:-1] + b',"counters":' + json.dumps(numbers, separators=(",", ":")).encode() + b"}"


def fault_announcement(
    policy: RedactionPolicy, identity: DeviceIdentity, fault: DeviceFault
) -> bytes:
    """A faulted device in the summary: its sealed description (disconnected), the
    sealed fault status under ``fault`` (``error_codes`` name the cause, ``detail``
    the reason where the policy lets text out) and whether the proxy retries it."""
    entry = json.loads(policy.redact_device(identity, Connectivity.DISCONNECTED).to_json_bytes())
    entry["fault"] = json.loads(policy.redact_status(fault.status(), identity).to_json_bytes())
    entry["retrying"] = fault.retry
    return json.dumps(entry, separators=(",", ":")).encode()


def maintenance_announcement(policy: RedactionPolicy, devices: Iterable[DeviceIdentity]) -> bytes:
    """A device summary for a graceful stop: each device's sealed description
    (disconnected: its link is closed) marked ``"maintenance": true``, which tells the
    Uplink to announce maintenance for them rather than let them look lost."""
    entries = []
    for identity in devices:
        sealed = policy.redact_device(identity, Connectivity.DISCONNECTED)
        entry = json.loads(sealed.to_json_bytes())
        entry["maintenance"] = True
        entries.append(json.dumps(entry, separators=(",", ":")).encode())
    return b"[" + b",".join(entries) + b"]"


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
