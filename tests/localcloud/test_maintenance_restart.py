"""Restarting the gateway, end to end: no OFFLINE alert for a graceful restart, alerts otherwise.

The gateway is a real process running the real ``Uplink`` and ``DeviceProxy``
components (one direct MQTT connection, as the nucleus holds one for both), reading
a simulated Nonin oximeter on a pty and publishing to Mosquitto, which the local
cloud bridges into the shipped detector models. The cloud's timers are shortened
by name, as the demo does: ``heartbeat`` to ``HEARTBEAT_S`` and ``maintenance``
to ``MAINTENANCE_S``, so a restart that outlasts the heartbeat is an ordinary
restart here. The process is stopped the two ways Greengrass and a power cut stop
it: SIGTERM (a graceful stop) and SIGKILL (a crash).

Run ``python -m tests.localcloud.test_maintenance_restart CONFIG`` to start the
gateway process by hand.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from tests.support.pty_oximeter import Oximeter

if TYPE_CHECKING:  # the gateway process imports this module: it needs none of the cloud
    from tests.support.mosquitto import Mosquitto
    from wardlink.localcloud import LocalCloud

REPO = Path(__file__).resolve().parents[2]
GATEWAY_MODULE = "tests.localcloud.test_maintenance_restart"  # this file, run as the gateway
HEARTBEAT_S = 2
MAINTENANCE_S = 10
WAIT_S = 25.0
DEVICE = "bed-7-spo2"
OFFLINE = "wardlink-device-offline"
GATEWAY = "wardlink-gateway-health"


@pytest.fixture(scope="module")
def cloud(
    dynamodb_local: str, broker: Mosquitto, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalCloud]:
    """The local cloud with both hold timers shortened (the conftest's shortens one)."""
    from wardlink.localcloud import LocalCloud

    unique = uuid.uuid4().hex[:6]
    local = LocalCloud(
        region="eu-west-1",
        dynamodb_endpoint=dynamodb_local,
        table_prefix=f"lm{unique}-",
        bucket=f"wardlink-lm{unique}-data",
        mqtt_url=broker.url,
        detector_timers={"heartbeat": HEARTBEAT_S, "maintenance": MAINTENANCE_S},
        workdir=tmp_path_factory.mktemp("cloud"),
        log_level="ERROR",
    )
    local.start()
    try:
        yield local
    finally:
        local.stop()


# -- the gateway process -----------------------------------------------------------------------


@dataclass
class GatewayProcess:
    gateway_id: str
    config: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def device_uid(self) -> str:
        return f"{self.gateway_id}/{DEVICE}"

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None
        with self.log.open("ab") as sink:
            self.process = subprocess.Popen(
                [sys.executable, "-m", GATEWAY_MODULE, str(self.config)],
                cwd=REPO,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )

    def stop(self, signum: int) -> None:
        """SIGTERM: a graceful stop (waits for it to finish); SIGKILL: a crash."""
        assert self.process is not None
        self.process.send_signal(signum)
        try:
            code = self.process.wait(WAIT_S)
        except subprocess.TimeoutExpired as exc:
            self.process.kill()
            self.process.wait(5)
            raise AssertionError(
                f"gateway did not stop within {WAIT_S} s:\n{self.output()}"
            ) from exc
        if signum == signal.SIGTERM:
            assert code == 0, self.output()

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)


@pytest.fixture
def make_gateway(tmp_path: Path, broker: Mosquitto) -> Iterator[Callable[[], GatewayProcess]]:
    made: list[tuple[GatewayProcess, Oximeter]] = []

    def make() -> GatewayProcess:
        gateway_id = f"gw-{uuid.uuid4().hex[:10]}"
        root = tmp_path / gateway_id
        root.mkdir()
        device = Oximeter()
        document = {
            "gatewayId": gateway_id,
            "logLevel": "WARNING",
            "spool": {"path": str(root / "spool" / "wardlink.sqlite3")},
            "uplink": {"heartbeatSeconds": 0.5},
            "broker": {"url": broker.url},
            "devices": [
                {
                    "deviceId": DEVICE,
                    "model": "Nonin OEM III (simulated)",
                    "codec": "serial:nonin-2",
                    "serial": {"path": device.path, "baudrate": 9600},
                }
            ],
        }
        config = root / "gateway.yaml"
        config.write_text(yaml.safe_dump(document))
        gateway = GatewayProcess(gateway_id, config, root / "gateway.log")
        made.append((gateway, device))
        return gateway

    try:
        yield make
    finally:
        for gateway, device in made:
            gateway.close()
            device.close()


# -- waiting on the cloud ----------------------------------------------------------------------


def _runner(cloud: LocalCloud) -> Any:
    detectors = cloud.detectors
    assert detectors is not None
    return detectors.runner


def wait_for_state(cloud: LocalCloud, model: str, key: str, state: str, why: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while _runner(cloud).state_of(model, key) != state:
        assert time.monotonic() < deadline, (
            f"{model}#{key} not {state} ({why}) within {WAIT_S} s: "
            f"{_runner(cloud).state_of(model, key)}; alerts {cloud.alerts()}"
        )
        time.sleep(0.05)


def wait_for_heartbeat_to_fire(cloud: LocalCloud, gateway: GatewayProcess) -> None:
    """Until neither the device's nor the gateway's heartbeat timer is pending: both
    have fired (or the instance was evaluated on their expiry)."""
    keys = {(OFFLINE, gateway.device_uid), (GATEWAY, gateway.gateway_id)}
    deadline = time.monotonic() + WAIT_S
    while any(
        (timer.model, timer.key) in keys and timer.name == "heartbeat"
        for timer in _runner(cloud).pending_timers()
    ):
        assert time.monotonic() < deadline, f"heartbeat still pending after {WAIT_S} s"
        time.sleep(0.05)


def offline_alerts(cloud: LocalCloud, gateway: GatewayProcess) -> list[dict[str, Any]]:
    keys = {gateway.device_uid, gateway.gateway_id}
    return [
        alert
        for alert in cloud.alerts()
        if alert["key"] in keys and "OFFLINE" in str(alert["message"])
    ]


def gateway_variable(cloud: LocalCloud, gateway: GatewayProcess, name: str) -> Any:
    stored = _runner(cloud).store.get(GATEWAY, gateway.gateway_id)
    return None if stored is None else stored.instance.variables.get(name)


def running(cloud: LocalCloud, gateway: GatewayProcess) -> None:
    """Until the cloud has the device online and the gateway healthy, reporting the
    device connected: the Uplink knows it (from the proxy's device summary)."""
    wait_for_state(cloud, OFFLINE, gateway.device_uid, "Online", "the oximeter's data")
    wait_for_state(cloud, GATEWAY, gateway.gateway_id, "Healthy", "the gateway's health")
    deadline = time.monotonic() + WAIT_S
    while gateway_variable(cloud, gateway, "connected_devices") != 1:
        assert time.monotonic() < deadline, f"the gateway never reported {DEVICE} connected"
        time.sleep(0.05)


# -- the tests ---------------------------------------------------------------------------------


@pytest.mark.integration
def test_a_graceful_restart_longer_than_the_heartbeat_raises_no_offline_alert(
    cloud: LocalCloud, make_gateway: Callable[[], GatewayProcess]
) -> None:
    gateway = make_gateway()
    gateway.start()
    running(cloud, gateway)

    gateway.stop(signal.SIGTERM)  # a deployment or a restart: Greengrass stops the component
    wait_for_state(cloud, OFFLINE, gateway.device_uid, "Maintenance", "the maintenance notice")
    wait_for_heartbeat_to_fire(cloud, gateway)  # away longer than the heartbeat
    assert offline_alerts(cloud, gateway) == []

    gateway.start()
    running(cloud, gateway)
    gateway.stop(signal.SIGTERM)
    assert offline_alerts(cloud, gateway) == [], gateway.output()
    assert cloud.stats().detector_errors == 0


@pytest.mark.integration
def test_a_crash_and_a_maintenance_that_never_ends_both_raise_offline(
    cloud: LocalCloud, make_gateway: Callable[[], GatewayProcess]
) -> None:
    """Fail closed: kill -9 alerts after the heartbeat as before; a graceful stop of a
    gateway that never comes back alerts once the maintenance timer runs out."""
    crashed, stopped = make_gateway(), make_gateway()
    for gateway in (crashed, stopped):
        gateway.start()
    for gateway in (crashed, stopped):
        running(cloud, gateway)

    crashed.stop(signal.SIGKILL)
    stopped.stop(signal.SIGTERM)

    def device_alert(gateway: GatewayProcess) -> dict[str, Any]:
        alert = cloud.wait_for_alert(
            lambda a: a["model"] == OFFLINE and a["key"] == gateway.device_uid,
            timeout_s=WAIT_S,
        )
        assert alert is not None, f"no OFFLINE alert for {gateway.device_uid}: {cloud.alerts()}"
        return alert

    crash_alert = device_alert(crashed)
    assert crash_alert["state"] == "Offline"
    assert crash_alert["event"] == "alertOffline"
    assert str(crash_alert["message"]).startswith("Wardlink alert: device OFFLINE. Device")
    assert _runner(cloud).state_of(OFFLINE, stopped.device_uid) == "Maintenance"

    overran = device_alert(stopped)
    assert overran["state"] == "Offline"
    assert overran["event"] == "alertOfflineAfterMaintenance"
    assert "device OFFLINE after gateway maintenance" in str(overran["message"])
    for gateway in (crashed, stopped):
        wait_for_state(cloud, GATEWAY, gateway.gateway_id, "Offline", "the gateway's silence")


# -- the gateway process itself ----------------------------------------------------------------


async def _gateway(config_file: Path) -> None:
    """Both components on one bus until SIGTERM, as under the nucleus."""
    from wardlink.bus.mqtt_direct import DirectMqttBus, MqttEndpoint
    from wardlink.gateway.proxy import DeviceProxy
    from wardlink.phi.policy import RedactionPolicy
    from wardlink.runtime.config import load_config_file
    from wardlink.runtime.logs import configure_logging
    from wardlink.uplink.component import Uplink

    configure_logging("test-gateway", "WARNING")
    config = load_config_file(config_file)
    assert config.broker is not None
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    bus = DirectMqttBus(MqttEndpoint(url=config.broker.url, client_id=config.gateway_id))
    await bus.start()
    try:
        await asyncio.gather(
            Uplink().run(bus, config, stop),
            DeviceProxy(policy=RedactionPolicy()).run(bus, config, stop),
        )
    finally:
        await bus.close()


if __name__ == "__main__":
    asyncio.run(_gateway(Path(sys.argv[1])))
