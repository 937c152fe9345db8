"""The gateway UI in the demo: the real ``wardlink.ui`` app over HTTPS, fed by the demo's bus.

The demo runs the device workers in one process rather than as a DeviceProxy,
so this module plays the DeviceProxy's and the Uplink's parts toward the UI:
it publishes the device summary, the sealed observations and the site state on
the demo bus's local topics, and runs the DeviceProxy's ``CommandService`` for
the UI's signed commands, and relays the UI's audit copies to the broker as the
Uplink does. The command key is generated for each run and given
to both sides (under Greengrass it comes from the secret store). A technician
account with a fresh random password is created each run and written to
``--ui-credentials`` as ``username:password``. After ``SILENCE_AT_S`` seconds the
bedside monitor is silenced, so the UI has a silent device to explain.

The device actions (add from a built-in profile, remove, scan for nearby BLE
health devices, sync stored records) are the DeviceProxy's ``SiteDevices``: the
demo's own devices are its "deployment", the site overlay is
``state/site-devices.json`` in the work directory, and a device added from the
UI gets a worker next to the others (the scan finds the demo's unconfigured
Bluetooth thermometer).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
from pathlib import Path

from wardlink.bus.port import EdgeBus
from wardlink.demo.devices import SimulatedSite
from wardlink.gateway.commands import CommandService, SiteOverlay
from wardlink.gateway.device_worker import DeviceWorker
from wardlink.gateway.local_feed import LocalFeed
from wardlink.gateway.proxy import LOCAL_DEVICES_TOPIC, build_worker, device_announcement
from wardlink.gateway.site_devices import SITE_DEVICES_TOPIC, DeviceOverlay, SiteDevices
from wardlink.gateway.spool_writer import SpoolWriter
from wardlink.phi.policy import RedactionPolicy
from wardlink.runtime.config import DeviceConfig, UiConfig
from wardlink.spool import Spool
from wardlink.ui.accounts import Role
from wardlink.ui.app import CommandClient
from wardlink.ui.component import (
    UiServer,
    attach_audit_copies,
    build_context,
    serve,
    subscribe,
)
from wardlink.ui.diagnostics import LogRing
from wardlink.ui.signing import COMMANDS_TOPIC
from wardlink.ui.site_view import SiteView
from wardlink.ui.tls import ensure_certificate
from wardlink.uplink.audit_relay import AuditRelay
from wardlink.uplink.publisher import Publisher
from wardlink.uplink.site_state import SiteStatePublisher

log = logging.getLogger(__name__)

TECHNICIAN = "technician"
SILENT_DEVICE = "bed-3-monitor"
SILENCE_AT_S = 8.0


class DemoUi:
    def __init__(
        self,
        workdir: Path,
        gateway_id: str,
        port: int,
        credentials: Path | None,
        idle_timeout_s: float = 900.0,
    ) -> None:
        self.workdir = workdir
        self.gateway_id = gateway_id
        self.settings = UiConfig(port=port, state_dir=workdir / "ui", idle_timeout_s=idle_timeout_s)
        self.credentials = credentials
        self.server: UiServer | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stop = asyncio.Event()
        self.ring = LogRing()

    async def start(
        self,
        bus: EdgeBus,
        site: SimulatedSite,
        policy: RedactionPolicy,
        writer: SpoolWriter,
        spool: Spool,
        publisher: Publisher,
    ) -> UiServer:
        key = secrets.token_bytes(32)
        view = SiteView()
        commands = CommandClient(key, bus.publish_local, COMMANDS_TOPIC)
        ctx = build_context(self.settings, self.gateway_id, view, commands)
        copies = attach_audit_copies(ctx, bus, self.settings)
        relay = AuditRelay(bus, self.gateway_id)
        await relay.attach()
        password = secrets.token_urlsafe(18)
        with contextlib.suppress(Exception):
            ctx.accounts.remove(TECHNICIAN)  # a kept workdir: a fresh password each run
        ctx.accounts.add(TECHNICIAN, password, Role.TECHNICIAN)
        ctx.audit.record("user-added", TECHNICIAN, role="technician", by="wardlink demo")
        if self.credentials is not None:
            fd = os.open(self.credentials, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(f"{TECHNICIAN}:{password}\n")
        logging.getLogger().addHandler(self.ring)
        ctx.log_ring = self.ring
        ctx.forbidden = (key, password.encode())
        ctx.config = {
            "gatewayId": self.gateway_id,
            "ui": self.settings.model_dump(mode="json", by_alias=True),
            "devices": [w.identity.device_id for w in site.workers],
        }
        devices = self._site_devices(site, policy, writer)
        await devices.deploy(tuple(site.configs.values()))
        service = CommandService(
            key,
            SiteOverlay(self.workdir / "state" / "site-overlay.json"),
            self.workdir / "state" / "commands-audit.jsonl",
            known=devices.known,
            devices=devices,
        )
        await service.attach(bus)
        await subscribe(bus, view, commands)
        feed = LocalFeed()
        writer.taps.append(feed.put)
        site_state = SiteStatePublisher(
            bus, spool, publisher, self.gateway_id, period_s=1.0, audit=relay
        )
        certificate = ensure_certificate(self.settings.state_dir, self.gateway_id)
        ctx.cert_not_after = certificate.not_after()
        started: asyncio.Future[UiServer] = asyncio.get_running_loop().create_future()
        self._tasks = [
            asyncio.create_task(feed.run(bus, self._stop)),
            asyncio.create_task(site_state.run(self._stop)),
            asyncio.create_task(copies.run(self._stop)),
            asyncio.create_task(relay.run(self._stop)),
            asyncio.create_task(self._announce(bus, site, policy, devices)),
            asyncio.create_task(
                serve(ctx, certificate, self.settings.host, self.settings.port, self._stop, started)
            ),
        ]
        self.server = await asyncio.wait_for(started, timeout=15)
        return self.server

    def _site_devices(
        self, site: SimulatedSite, policy: RedactionPolicy, writer: SpoolWriter
    ) -> SiteDevices:
        """The DeviceProxy's site-device logic, over the demo's workers."""
        state = self.workdir / "state"

        async def apply(devices: tuple[DeviceConfig, ...]) -> None:
            wanted = {d.device_id: d for d in devices}
            for worker in list(site.workers):
                if worker.identity.device_id not in wanted:
                    await site.retire(worker.identity.device_id)
            running = {w.identity.device_id for w in site.workers}
            for device_id, device in wanted.items():
                if device_id in running:
                    continue
                try:
                    site.add_worker(build_worker(device, policy, writer, state_dir=state))
                except Exception as exc:  # the DeviceProxy would report it faulted
                    log.warning("device %s not started: %s", device_id, exc)

        def worker_of(device_id: str) -> DeviceWorker | None:
            return next((w for w in site.workers if w.identity.device_id == device_id), None)

        return SiteDevices(DeviceOverlay(state / "site-devices.json"), apply, worker_of)

    async def _announce(
        self, bus: EdgeBus, site: SimulatedSite, policy: RedactionPolicy, devices: SiteDevices
    ) -> None:
        """The DeviceProxy's device summary, every second; silences the monitor on cue."""
        started = asyncio.get_running_loop().time()
        silenced = False
        while not self._stop.is_set():
            if not silenced and asyncio.get_running_loop().time() - started >= SILENCE_AT_S:
                silenced = site.silence(SILENT_DEVICE)
            try:
                await bus.publish_local(
                    LOCAL_DEVICES_TOPIC, device_announcement(policy, site.workers)
                )
                await bus.publish_local(SITE_DEVICES_TOPIC, devices.state())
            except Exception as exc:
                log.debug("device summary not published", extra={"error": str(exc)})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=1.0)

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        logging.getLogger().removeHandler(self.ring)
