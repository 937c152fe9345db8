"""A simulated site: devices with patients, the gateway pipeline and an IoT Core stand-in.

Everything the production gateway runs is real here - pyserial on ptys, the codecs,
the redaction policy, the SQLite spool, the publisher and awsiotsdk's MQTT 5 client
over mutual TLS. Only the devices and the broker are stand-ins. By default the
broker is the embedded one (so nothing needs installing), started with a throwaway
PKI so the uplink authenticates with a client certificate exactly as it would to
IoT Core; ``--broker mqtt://HOST:PORT`` points at an external broker instead.

An observer subscribed to ``wardlink/#`` records everything the broker delivered,
so the summary can prove both halves of the promise: every ``seq`` up to
``last_seq`` arrived, and no PHI value the simulators sent is anywhere in it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from wardlink.bus.mqtt_direct import DirectMqttBus, MqttEndpoint
from wardlink.demo.devices import SimulatedSite, build_site
from wardlink.demo.progress import DemoSummary, render_line, show
from wardlink.devtools.mqtt_observer import MqttObserver
from wardlink.devtools.pki import DevPki, make_dev_pki, mutual_tls_server_context
from wardlink.gateway.spool_writer import SpoolWriter
from wardlink.model import RecordKind
from wardlink.phi.policy import RedactionPolicy
from wardlink.spool import Spool
from wardlink.uplink.health import Heartbeat
from wardlink.uplink.publisher import Publisher

log = logging.getLogger(__name__)

GATEWAY_ID = "wardlink-demo-gateway"


@dataclass(frozen=True)
class DemoOptions:
    duration: float | None = None
    broker: str | None = None
    summary: Path | None = None
    workdir: Path | None = None
    seed: int = 7
    drain_timeout: float = 15.0
    live: bool | None = None
    cloud: bool = False
    cloud_env: Path | None = None
    """Attach to the local cloud this env file names instead of starting one."""
    ui_port: int | None = None
    ui_credentials: Path | None = None
    ui_idle_timeout_s: float = 900.0


class _Broker:
    """The embedded TLS broker, or nothing when an external URL was given."""

    def __init__(self, options: DemoOptions, workdir: Path) -> None:
        self.options = options
        self.workdir = workdir
        self.pki: DevPki | None = None
        self._embedded: object | None = None
        self.url = options.broker or ""

    async def start(self) -> None:
        if self.options.broker:
            from wardlink.contract.endpoints import is_loopback_host

            parsed = urlparse(self.options.broker)
            if parsed.scheme != "mqtt":
                raise SystemExit("--broker takes mqtt://HOST:PORT (plain loopback broker)")
            if not is_loopback_host(parsed.hostname or ""):
                raise SystemExit(
                    f"--broker {self.options.broker}: plain-text MQTT is allowed to loopback "
                    "hosts only; run the broker on this machine"
                )
            return
        from wardlink.devtools.mqtt_broker import EmbeddedBroker

        self.pki = make_dev_pki(self.workdir / "pki", client_name=GATEWAY_ID)
        broker = EmbeddedBroker()
        await broker.start(
            "127.0.0.1",
            0,
            ssl_context=mutual_tls_server_context(
                self.pki.ca_cert, self.pki.server_cert, self.pki.server_key
            ),
        )
        self._embedded = broker
        self.url = f"mqtts://127.0.0.1:{broker.port}"

    def tap(self, forward: Callable[[str, bytes], None]) -> None:
        """Forward every message the embedded broker accepts (the IoT rule stand-in)."""
        if self._embedded is not None:
            self._embedded.add_listener(lambda m: forward(m.topic, m.payload))  # type: ignore[attr-defined]

    async def stop(self) -> None:
        if self._embedded is not None:
            await self._embedded.stop()  # type: ignore[attr-defined]

    def endpoint(self, client_id: str) -> MqttEndpoint:
        pki = self.pki
        return MqttEndpoint(
            url=self.url,
            client_id=client_id,
            cert=str(pki.client_cert) if pki else None,
            key=str(pki.client_key) if pki else None,
            ca=str(pki.ca_cert) if pki else None,
        )


class SiteDemo:
    def __init__(self, options: DemoOptions) -> None:
        self.options = options
        self.summary = DemoSummary()

    async def run(self, stop: asyncio.Event | None = None) -> DemoSummary:
        stop = stop or asyncio.Event()
        with contextlib.ExitStack() as stack:
            workdir = self.options.workdir or Path(
                stack.enter_context(tempfile.TemporaryDirectory(prefix="wardlink-demo-"))
            )
            workdir.mkdir(parents=True, exist_ok=True)
            return await self._run(workdir, stop)

    async def _run(self, workdir: Path, stop: asyncio.Event) -> DemoSummary:
        started = time.monotonic()
        broker = _Broker(self.options, workdir)
        await broker.start()
        self.summary.broker = broker.url
        observer_ep = broker.endpoint("wardlink-demo-observer")
        # A persistent session: if the broker restarts, it queues what we would miss.
        observer = MqttObserver(
            observer_ep.host,
            observer_ep.port,
            broker.pki,
            topic_filter="wardlink/#",
            client_id=f"wardlink-demo-observer-{os.getpid()}",
            persistent_session=True,
        )
        await asyncio.to_thread(observer.start)

        spool = Spool(workdir / "spool" / "wardlink.sqlite3")
        bus = DirectMqttBus(broker.endpoint(f"{GATEWAY_ID}-uplink"))
        await bus.start()
        publisher = Publisher(bus, spool, GATEWAY_ID)
        writer = SpoolWriter(spool, on_appended=publisher.notify)
        demo_cloud = None
        if self.options.cloud:
            from wardlink.demo.cloud_side import DemoCloud

            print("starting the local cloud (DynamoDB Local, API, detectors)...")
            demo_cloud = DemoCloud(
                workdir, GATEWAY_ID, self.options.broker if self.options.broker else None
            )
            await demo_cloud.start()
            broker.tap(demo_cloud.forward)
        elif self.options.cloud_env is not None:
            from wardlink.demo.attached_cloud import AttachedCloud

            demo_cloud = AttachedCloud(self.options.cloud_env, GATEWAY_ID)
            await demo_cloud.start()
            broker.tap(demo_cloud.forward)
        policy = RedactionPolicy.default()
        site: SimulatedSite = await build_site(workdir, policy, writer, seed=self.options.seed)
        demo_ui = None
        if self.options.ui_port is not None:
            from wardlink.demo.ui_side import DemoUi

            demo_ui = DemoUi(
                workdir,
                GATEWAY_ID,
                self.options.ui_port,
                self.options.ui_credentials,
                self.options.ui_idle_timeout_s,
            )
            server = await demo_ui.start(bus, site, policy, writer, spool, publisher)
            login = (
                f", login in {self.options.ui_credentials}" if self.options.ui_credentials else ""
            )
            print(f"gateway UI: {server.url}{login}", flush=True)
        heartbeat = Heartbeat(
            bus,
            spool,
            publisher,
            GATEWAY_ID,
            interval_s=5.0,
            connected_devices=site.connected_devices,
        )

        acquisition_stop = asyncio.Event()
        uplink_stop = asyncio.Event()
        acquisition = site.start_workers(acquisition_stop)
        acquisition.append(asyncio.create_task(site.run_simulators(acquisition_stop)))
        writer_task = asyncio.create_task(writer.run(acquisition_stop))
        if demo_cloud is not None:
            acquisition.append(asyncio.create_task(demo_cloud.run(site, policy, acquisition_stop)))
        uplink = [
            asyncio.create_task(publisher.run(uplink_stop)),
            asyncio.create_task(heartbeat.run(uplink_stop)),
        ]
        deadline = started + self.options.duration if self.options.duration else None
        try:
            while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
                self._update(site, writer, publisher, spool)
                show(
                    render_line(
                        time.monotonic() - started,
                        self.summary,
                        bus.uplink_connected,
                        spool.stats().depth,
                    ),
                    live=self.options.live,
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=1.0)
        finally:
            # Stop acquiring, flush to the spool, then drain the spool (bounded).
            if demo_ui is not None:
                await demo_ui.stop()
            acquisition_stop.set()
            await asyncio.gather(
                *acquisition, *site.worker_tasks(), writer_task, return_exceptions=True
            )
            await site.close()
            uplink_stop.set()
            await asyncio.gather(*uplink, return_exceptions=True)
            await heartbeat.beat()
            drained = await publisher.drain(self.options.drain_timeout)
            await self._await_observer(observer, publisher.counters.last_seq)
            self._update(site, writer, publisher, spool)
            self.summary.phi_canaries = site.phi_canaries()
            self._check(observer)
            self.summary.spool_depth_at_exit = spool.stats().depth_by_kind.get(
                RecordKind.TELEMETRY.value, 0
            )
            self.summary.duration_s = round(time.monotonic() - started, 2)
            show(
                render_line(
                    self.summary.duration_s,
                    self.summary,
                    bus.uplink_connected,
                    self.summary.spool_depth_at_exit,
                ),
                live=self.options.live,
            )
            print(
                f"\nspool drained: {drained}; broker saw {self.summary.broker_items} items; "
                f"missing seqs: {self.summary.missing_seqs}; "
                f"PHI leaks: {len(self.summary.phi_leaks)}"
                f"\nacquired {self.summary.acquired} = delivered {self.summary.delivered}"
                f" + spooled at exit {self.summary.spool_depth_at_exit}"
                f" + lost {self.summary.dropped_total} {self.summary.dropped}"
                f": {'accounted' if self.summary.accounted else 'NOT ACCOUNTED'}"
            )
            if demo_cloud is not None:
                report = await demo_cloud.finish()
                self.summary.cloud = dataclasses.asdict(report)
                stored = (
                    f"{report.messages_forwarded} messages forwarded"
                    if self.options.cloud_env is not None
                    else f"{report.telemetry_records_stored} telemetry records stored"
                )
                print(
                    f"cloud: {report.devices_registered} devices registered, {stored} "
                    f"({report.telemetry_points_read_back} read back from "
                    f"{report.telemetry_store or 'the store'}), "
                    f"{len(report.alerts)} alerts, {len(report.active_alarms)} active alarms"
                )
            observer.stop()
            await bus.close()
            spool.close()
            await broker.stop()
            if self.options.summary is not None:
                self.summary.write(self.options.summary)
        return self.summary

    def _update(
        self, site: SimulatedSite, writer: SpoolWriter, publisher: Publisher, spool: Spool
    ) -> None:
        s = self.summary
        s.acquired = sum(w.counters.acquired for w in site.all_workers())
        s.frame_errors = sum(w.counters.frame_errors for w in site.all_workers())
        s.spooled = writer.counters.spooled
        s.delivered = publisher.counters.delivered_telemetry
        s.last_seq = publisher.counters.last_seq
        s.dropped = dict(sorted(spool.telemetry_lost.items()))
        s.devices = {w.identity.device_id: w.connectivity.value for w in site.workers}

    async def _await_observer(
        self, observer: MqttObserver, last_seq: int, timeout: float = 5.0
    ) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self._seqs(observer) >= set(range(1, last_seq + 1)):
                return
            await asyncio.sleep(0.1)

    @staticmethod
    def _seqs(observer: MqttObserver) -> set[int]:
        seqs: set[int] = set()
        for message in observer.snapshot():
            try:
                seqs.update(int(item["seq"]) for item in message.json()["items"])
            except (ValueError, KeyError, TypeError):
                continue
        return seqs

    def _check(self, observer: MqttObserver) -> None:
        seqs = self._seqs(observer)
        s = self.summary
        s.broker_items = len(seqs)
        s.broker_max_seq = max(seqs, default=0)
        s.missing_seqs = len(set(range(1, s.last_seq + 1)) - seqs)
        by_device: dict[str, int] = {}
        for message in observer.snapshot():
            if not message.topic.endswith("/telemetry"):
                continue
            for item in message.json()["items"]:
                by_device[item["device_id"]] = by_device.get(item["device_id"], 0) + 1
        s.delivered_by_device = dict(sorted(by_device.items()))
        raw = b"\n".join(m.topic.encode() + b" " + m.payload for m in observer.snapshot())
        lowered = raw.lower()
        s.phi_leaks = [c for c in s.phi_canaries if c.encode().lower() in lowered]
