"""The Greengrass IPC adapter of the edge bus, on the real awsiot client and the emulator.

Run with the repository's own recipes, so the least-privilege policies are the ones
that ship: the Uplink may publish to IoT Core, the DeviceProxy may not, and only
the DeviceProxy may read the pseudonym keys.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.greengrass.support import start_emulator
from tests.support.mosquitto import Mosquitto
from wardlink.bus.greengrass_ipc import GreengrassIpcBus
from wardlink.bus.port import ComponentState, LocalMessage, Unauthorized
from wardlink.devtools.mqtt_observer import MqttObserver
from wardlink.runtime.config import config_from_document

pytestmark = pytest.mark.integration

THING = "ipc-test-gw"
KEY_ARN = "arn:aws:secretsmanager:us-east-1:111122223333:secret:wardlink/phi/hmac/patient_id-AbCdEf"


def _bus(running, component: str) -> GreengrassIpcBus:  # type: ignore[no-untyped-def]
    return GreengrassIpcBus(running.client(component))


async def test_every_bus_operation_through_ipc(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path / "broker", tls=False)
    broker.start()
    observer = MqttObserver("127.0.0.1", broker.port, None, topic_filter="wardlink/#")
    observer.start()
    secrets = tmp_path / "secrets.json"
    secrets.write_text(
        json.dumps(
            {
                "secrets": [
                    {
                        "arn": KEY_ARN,
                        "name": "wardlink/phi/hmac/patient_id",
                        "secretString": "k" * 32,
                    },
                ]
            }
        )
    )
    running = start_emulator(tmp_path, mqtt_url=broker.url, secrets=secrets, thing_name=THING)
    try:
        uplink = _bus(running, "com.wardlink.Uplink")
        proxy = _bus(running, "com.wardlink.DeviceProxy")
        for bus in (uplink, proxy):
            await bus.start()

        # IoT Core: allowed for the uplink on its own topics only; never for the proxy.
        await uplink.publish_to_iot_core(
            f"wardlink/v1/{THING}/telemetry", b'{"items": []}', timeout=10
        )
        with pytest.raises(Unauthorized):
            await uplink.publish_to_iot_core(
                "wardlink/v1/another-gateway/telemetry", b"{}", timeout=10
            )
        with pytest.raises(Unauthorized):
            await proxy.publish_to_iot_core(f"wardlink/v1/{THING}/telemetry", b"{}", timeout=10)

        # Local pub/sub: the proxy announces devices, the uplink hears them.
        heard: asyncio.Queue[LocalMessage] = asyncio.Queue()

        async def on_devices(message: LocalMessage) -> None:
            await heard.put(message)

        await uplink.subscribe_local("wardlink/local/devices", on_devices)
        await proxy.publish_local("wardlink/local/devices", b'[{"device_id": "d1"}]')
        message = await asyncio.wait_for(heard.get(), timeout=10)
        assert message.payload == b'[{"device_id": "d1"}]'
        with pytest.raises(Unauthorized):
            await proxy.publish_local("wardlink/local/somewhere-else", b"{}")

        # Configuration, state and secrets.
        config = await proxy.get_configuration()
        assert config_from_document(config).spool.path.name == "wardlink.sqlite3"
        await proxy.update_state(ComponentState.RUNNING)
        assert await proxy.get_secret(KEY_ARN) == b"k" * 32
        with pytest.raises(Unauthorized):
            await uplink.get_secret(KEY_ARN)

        for bus in (uplink, proxy):
            await bus.close()
        await asyncio.sleep(0.5)
        topics = [m.topic for m in observer.snapshot()]
        assert topics == [f"wardlink/v1/{THING}/telemetry"]
    finally:
        running.stop()
        observer.stop()
        broker.stop()
