"""The demo's cloud: the local cloud, fed by the broker, with device registration.

With ``wardlink demo --cloud`` the site's telemetry also reaches the manufacturer's
side as it would in AWS: every message the broker accepts goes through the IoT
rule stand-in into the Kinesis consumers (telemetry writer into a real local
InfluxDB, detector engine); at the end the demo reads each device's last hour back
from InfluxDB over the same InfluxQL ``/query`` the support API will use; the
gateway registers its devices through the SigV4-signed API with the registrar the
Uplink component uses; and the detectors raise alerts. Two faults are scripted so
that support has something to see: an oximeter's sensor comes off (a device fault)
and the bedside monitor goes silent (device offline).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wardlink.bus.port import LocalMessage
from wardlink.demo.devices import SimulatedSite
from wardlink.gateway.proxy import LOCAL_DEVICES_TOPIC, device_announcement
from wardlink.phi.policy import RedactionPolicy
from wardlink.uplink.registrar import DeviceRegistrar

log = logging.getLogger(__name__)

HEARTBEAT_S = 10.0  # the detectors' heartbeat timer, shortened from 300 s for the demo
FAULT_AT_S = 8.0
SILENCE_AT_S = 12.0
SITE_ID = "demo-site"


@dataclass
class CloudReport:
    devices_registered: int = 0
    telemetry_records_stored: int = 0
    telemetry_store: str = ""
    telemetry_points_read_back: int = 0
    telemetry_read_back_by_device: dict[str, int] = field(default_factory=dict)
    alerts: list[str] = field(default_factory=list)
    active_alarms: list[dict[str, Any]] = field(default_factory=list)
    messages_forwarded: int = 0
    """Attached (``--cloud-env``): broker messages handed to the running cloud's IoT rule."""


class DemoCloud:
    """Owns the ``LocalCloud`` and the gateway-side registrar for the demo."""

    def __init__(self, workdir: Path, gateway_id: str, mqtt_url: str | None) -> None:
        from wardlink.localcloud import LocalCloud

        self.gateway_id = gateway_id
        self.cloud = LocalCloud(
            mqtt_url=mqtt_url,
            detector_timers={"heartbeat": HEARTBEAT_S},
            workdir=workdir / "cloud",
            log_level="ERROR",
        )
        self.registrar: DeviceRegistrar | None = None
        self.report = CloudReport()

    async def start(self) -> None:
        await asyncio.to_thread(self.cloud.start)
        self.cloud.add_alert_listener(lambda alert: print("\n" + self.cloud.alert_line(alert)))
        self.registrar = DeviceRegistrar(self._client, self.gateway_id, SITE_ID)

    def _client(self, *, support: bool = False) -> Any:
        """An API client as the demo gateway (its own thing name), or as support."""
        from botocore.credentials import Credentials

        from wardlink.cloudclient import WardlinkApiClient

        creds = (
            self.cloud.support_credentials()
            if support
            else self.cloud.gateway_credentials(self.gateway_id)
        )
        return WardlinkApiClient(
            self.cloud.endpoint,
            self.cloud.region,
            Credentials(creds.access_key, creds.secret_key, creds.session_token),
        )

    def forward(self, topic: str, payload: bytes) -> None:
        """The IoT rule: what the (embedded) broker accepted goes to the cloud's stream."""
        self.cloud.publish(topic, payload)

    async def run(self, site: SimulatedSite, policy: RedactionPolicy, stop: asyncio.Event) -> None:
        """Announce devices to the registrar and play the scripted faults."""
        assert self.registrar is not None
        started = time.monotonic()
        registrar = asyncio.create_task(self.registrar.run(stop))
        faulted = silenced = False
        while not stop.is_set():
            message = LocalMessage(LOCAL_DEVICES_TOPIC, device_announcement(policy, site.workers))
            await self.registrar.on_local_devices(message)
            elapsed = time.monotonic() - started
            if not faulted and elapsed >= FAULT_AT_S:
                faulted = site.inject_sensor_fault("bed-2-oximeter", seconds=3600)
            if not silenced and elapsed >= SILENCE_AT_S:
                silenced = site.silence("bed-3-monitor")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0)
        await registrar

    def _read_back(self) -> None:
        """Each device's last hour, read back from the store (InfluxQL over /query)."""
        reader = self.cloud.telemetry_reader()
        self.report.telemetry_store = f"influxdb {self.cloud.influxdb_url}"
        series = reader.query('SHOW TAG VALUES WITH KEY = "device_id"')
        devices = sorted({str(value) for s in series for _, value in s.get("values", [])})
        for device in devices:
            rows = reader.last_hour(device)
            self.report.telemetry_read_back_by_device[device] = len(rows)
            self.report.telemetry_points_read_back += len(rows)

    async def finish(self) -> CloudReport:
        await asyncio.to_thread(self.cloud.wait_idle, 10.0)
        stats = self.cloud.stats()
        self.report.devices_registered = stats.devices_registered
        self.report.telemetry_records_stored = stats.telemetry_records_stored
        try:
            await asyncio.to_thread(self._read_back)
        except Exception as exc:  # informative; the stored count above stands
            log.warning("could not read telemetry back", extra={"error": str(exc)})
        self.report.alerts = [str(a["message"]) for a in self.cloud.alerts()]
        try:
            from wardlink.contract.models import AlarmState

            support = self._client(support=True)
            page = await asyncio.to_thread(support.list_alarms, AlarmState.ACTIVE)
            self.report.active_alarms = [
                {"alarm_id": a.alarm_id, "state": str(a.state), "title": a.title}
                for a in page.items
            ]
        except Exception as exc:  # the report is informative; never fail the demo on it
            log.warning("could not list alarms", extra={"error": str(exc)})
        await asyncio.to_thread(self.cloud.stop)
        return self.report
