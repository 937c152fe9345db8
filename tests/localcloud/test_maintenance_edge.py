"""The gateway's side of a planned stop: what the Uplink and the DeviceProxy send.

Real components, real spool and a real broker (Mosquitto); what the cloud would
receive is what an MQTT observer captures. The cloud's side is in
``tests/detectors/test_maintenance.py`` and, end to end, in
``test_maintenance_restart.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.pty_oximeter import Oximeter
from wardlink.bus.mqtt_direct import DirectMqttBus, MqttEndpoint
from wardlink.devtools.mqtt_observer import MqttObserver
from wardlink.gateway.proxy import LOCAL_DEVICES_TOPIC, DeviceProxy
from wardlink.model import Connectivity, DeviceIdentity, Observation, RecordKind
from wardlink.model.observation import Metric, Quality
from wardlink.phi.policy import RedactionPolicy
from wardlink.runtime.config import GatewayConfig
from wardlink.spool import Spool
from wardlink.uplink.component import Uplink

if TYPE_CHECKING:
    from tests.support.mosquitto import Mosquitto

SPO2 = Metric(mdc_code=150456, mdc_name="MDC_PULS_OXIM_SAT_O2")
DEVICE = "bed-7-spo2"
WAIT_S = 20.0


@pytest.fixture
def gateway_id() -> str:
    return f"gw-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def observer(broker: Mosquitto, gateway_id: str) -> Iterator[MqttObserver]:
    capture = MqttObserver(
        "127.0.0.1", broker.port, None, topic_filter=f"wardlink/v1/{gateway_id}/#"
    )
    capture.start()
    try:
        yield capture
    finally:
        capture.stop()


def config(tmp_path: Path, broker: Mosquitto, gateway_id: str, **extra: Any) -> GatewayConfig:
    return GatewayConfig.model_validate(
        {
            "gatewayId": gateway_id,
            "spool": {"path": str(tmp_path / "spool" / "wardlink.sqlite3")},
            "uplink": {"heartbeatSeconds": 0.2},
            "broker": {"url": broker.url},
            **extra,
        }
    )


async def connected_bus(cfg: GatewayConfig) -> DirectMqttBus:
    assert cfg.broker is not None
    bus = DirectMqttBus(MqttEndpoint(url=cfg.broker.url, client_id=f"{cfg.gateway_id}-test"))
    await bus.start()
    assert await bus.wait_connected(10)
    return bus


def items(observer: MqttObserver, kind: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for message in observer.snapshot():
        document = message.json()
        if document["kind"] == kind:
            out.extend(document["items"])
    return out


def maintenance_notices(observer: MqttObserver) -> list[dict[str, Any]]:
    return [item for item in items(observer, "health") if item["state"] == "maintenance"]


async def wait_until(check: Any, why: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not check():
        assert time.monotonic() < deadline, f"not within {WAIT_S} s: {why}"
        await asyncio.sleep(0.05)


def announcement(policy: RedactionPolicy, *device_ids: str) -> bytes:
    """The DeviceProxy's device summary, as its policy seals it."""
    return json.dumps(
        [
            json.loads(
                policy.redact_device(
                    DeviceIdentity(device_id=d, model="Nonin 3150"), Connectivity.CONNECTED
                ).to_json_bytes()
            )
            for d in device_ids
        ]
    ).encode()


@pytest.mark.integration
async def test_the_uplink_stopping_sends_its_notice_and_nothing_written_after_it(
    tmp_path: Path, broker: Mosquitto, gateway_id: str, observer: MqttObserver
) -> None:
    """Uplink redeployed while the DeviceProxy keeps writing: what the devices say after
    the notice would end the cloud's hold before the Uplink has even gone; it waits."""
    cfg = config(tmp_path, broker, gateway_id)
    policy = RedactionPolicy()
    writer_spool = Spool(cfg.spool.path)  # the DeviceProxy's handle on the shared spool
    writing = asyncio.Event()

    async def proxy_writing() -> None:
        while not writing.is_set():
            observation = Observation(
                device_id=DEVICE,
                metric=SPO2,
                value=97.0,
                unit="%",
                measured_at=datetime.now(UTC),
                quality=Quality.VALID,
            )
            sealed = policy.redact_observations(
                [observation], DeviceIdentity(device_id=DEVICE, model="Nonin 3150")
            )
            await asyncio.to_thread(writer_spool.append_sealed, sealed, RecordKind.TELEMETRY)
            await asyncio.sleep(0.01)

    writer = asyncio.create_task(proxy_writing())
    bus = await connected_bus(cfg)
    try:
        stop = asyncio.Event()
        uplink = asyncio.create_task(Uplink().run(bus, cfg, stop))
        await asyncio.sleep(0.1)
        await bus.publish_local(LOCAL_DEVICES_TOPIC, announcement(policy, DEVICE, "bed-8-bp"))
        await wait_until(lambda: len(items(observer, "telemetry")) > 20, "telemetry flowing")
        stop.set()
        await uplink
        (notice,) = maintenance_notices(observer)
        assert notice["maintenance_devices"] == ["bed-7-spo2", "bed-8-bp"]
        sent = [item["seq"] for item in items(observer, "telemetry")]
        assert sent and max(sent) < notice["seq"]
        await asyncio.sleep(0.2)  # the proxy goes on writing while the Uplink is away
        left = writer_spool.read(max_items=10_000)
        assert left and min(r.seq for r in left) > notice["seq"]  # all older ones left

        # the Uplink is back: what waited is delivered, nothing is lost
        observer.clear()
        stop = asyncio.Event()
        uplink = asyncio.create_task(Uplink().run(bus, cfg, stop))
        after = {r.seq for r in left if r.kind is RecordKind.TELEMETRY}
        await wait_until(
            lambda: after <= {item["seq"] for item in items(observer, "telemetry")},
            "the records written while the Uplink was away",
        )
        writing.set()
        await writer
        stop.set()
        await uplink
    finally:
        writing.set()
        with contextlib.suppress(Exception):
            await writer
        await bus.close()
        writer_spool.close()


@pytest.fixture
def oximeter() -> Iterator[Oximeter]:
    device = Oximeter()
    try:
        yield device
    finally:
        device.close()


def proxy_config(
    tmp_path: Path, broker: Mosquitto, gateway_id: str, oximeter: Oximeter
) -> GatewayConfig:
    device = {
        "deviceId": DEVICE,
        "model": "Nonin OEM III (simulated)",
        "codec": "serial:nonin-2",
        "serial": {"path": oximeter.path, "baudrate": 9600},
    }
    return config(tmp_path, broker, gateway_id, devices=[device])


@pytest.mark.integration
async def test_the_proxy_stopping_alone_is_announced_by_the_uplink(
    tmp_path: Path,
    broker: Mosquitto,
    gateway_id: str,
    observer: MqttObserver,
    oximeter: Oximeter,
) -> None:
    """DeviceProxy redeployed, Uplink running: the notice names its devices, is numbered
    after everything they said, and no device status makes the stop look like a loss."""
    cfg = proxy_config(tmp_path, broker, gateway_id, oximeter)
    bus = await connected_bus(cfg)
    uplink_stop, proxy_stop = asyncio.Event(), asyncio.Event()
    uplink = asyncio.create_task(Uplink().run(bus, cfg, uplink_stop))
    try:
        proxy = asyncio.create_task(DeviceProxy(policy=RedactionPolicy()).run(bus, cfg, proxy_stop))
        await wait_until(lambda: len(items(observer, "telemetry")) > 5, "the oximeter's data")
        proxy_stop.set()
        await proxy
        await wait_until(lambda: maintenance_notices(observer), "the maintenance notice")
        (notice,) = maintenance_notices(observer)
        assert notice["maintenance_devices"] == [DEVICE]
        assert max(item["seq"] for item in items(observer, "telemetry")) < notice["seq"]
        assert [s for s in items(observer, "status") if s["connectivity"] != "connected"] == []
        # the Uplink keeps beating, and says it is running
        await wait_until(
            lambda: items(observer, "health")[-1]["seq"] > notice["seq"], "the next heartbeat"
        )
        assert items(observer, "health")[-1]["state"] == "running"
        assert items(observer, "health")[-1]["maintenance_devices"] == []
    finally:
        uplink_stop.set()
        await uplink
        await bus.close()


@pytest.mark.integration
async def test_a_proxy_that_fails_announces_no_maintenance(
    tmp_path: Path,
    broker: Mosquitto,
    gateway_id: str,
    observer: MqttObserver,
    oximeter: Oximeter,
) -> None:
    """Only a stop that was asked for is planned: a proxy task torn down without one (the
    nearest thing to a crash in one process) leaves the cloud to alert."""
    cfg = proxy_config(tmp_path, broker, gateway_id, oximeter)
    bus = await connected_bus(cfg)
    uplink_stop = asyncio.Event()
    uplink = asyncio.create_task(Uplink().run(bus, cfg, uplink_stop))
    try:
        proxy = asyncio.create_task(
            DeviceProxy(policy=RedactionPolicy()).run(bus, cfg, asyncio.Event())
        )
        await wait_until(lambda: len(items(observer, "telemetry")) > 5, "the oximeter's data")
        proxy.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await proxy
        beats = len(items(observer, "health"))
        await wait_until(lambda: len(items(observer, "health")) > beats + 2, "three heartbeats")
        assert maintenance_notices(observer) == []
    finally:
        uplink_stop.set()
        await uplink
        await bus.close()
