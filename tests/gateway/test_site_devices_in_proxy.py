"""The DeviceProxy runs the deployment merged with the site's device overlay.

The proxy's own ``_apply`` (supervised workers, faults) under ``SiteDevices``: a
device added on site starts next to the deployment's, a removed one stops, a
reconfiguration that conflicts with the site's change wins, and the state the UI
shows is published on ``wardlink/local/site-devices``.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from tests.support.waiting import eventually
from wardlink.bus.mqtt_direct import DirectMqttBus, MqttEndpoint
from wardlink.bus.port import LocalMessage
from wardlink.gateway.proxy import DeviceProxy
from wardlink.gateway.site_devices import SITE_DEVICES_TOPIC, DeviceOverlay, SiteDevices
from wardlink.gateway.spool_writer import SpoolWriter
from wardlink.phi.policy import RedactionPolicy
from wardlink.runtime.config import DeviceConfig, GatewayConfig
from wardlink.spool import Spool
from wardlink.transports import Backoff


def _oximeter(device_id: str, port: str) -> DeviceConfig:
    return DeviceConfig.model_validate(
        {"device_id": device_id, "profile": "nonin-oem3-format2", "serial": {"path": port}}
    )


async def test_the_proxy_runs_the_deployment_merged_with_the_site(tmp_path: Path) -> None:
    proxy = DeviceProxy(RedactionPolicy(), restart_backoff=Backoff(initial=5.0, maximum=5.0))
    proxy.writer = SpoolWriter(Spool(tmp_path / "spool.sqlite3"))
    proxy.state_dir = tmp_path / "state"
    proxy.site_devices = SiteDevices(
        DeviceOverlay(tmp_path / "state" / "site-devices.json"), proxy._apply, proxy._worker_of
    )
    site = proxy.site_devices
    try:
        await site.deploy((_oximeter("bed-1", "/dev/ttyWL-missing-1"),))
        ok, detail = await site.add(
            {"device_id": "spare", "profile": "nonin-oem3-format2", "port": "/dev/ttyWL-missing-2"}
        )
        assert ok, detail
        assert set(proxy._devices) == {"bed-1", "spare"}
        await eventually(lambda: set(proxy.faults) == {"bed-1", "spare"})  # no such ports here

        ok, detail = await site.remove("bed-1")
        assert ok, detail
        assert set(proxy._devices) == {"spare"}

        # A deployment that configures "spare" itself: its configuration runs.
        theirs = _oximeter("spare", "/dev/ttyWL-deployed")
        await proxy.reconfigure(
            GatewayConfig.model_validate(
                {
                    "gatewayId": "gw-test",
                    "devices": [
                        theirs.model_dump(by_alias=True, exclude_none=True),
                        _oximeter("bed-1", "/dev/ttyWL-missing-1").model_dump(
                            by_alias=True, exclude_none=True
                        ),
                    ],
                }
            )
        )
        assert set(proxy._devices) == {"spare"}  # bed-1 unchanged: still removed on site
        assert proxy._devices["spare"].config == theirs
        assert [c.device_id for c in site.conflicts] == ["spare"]

        bus = DirectMqttBus(MqttEndpoint("mqtt://127.0.0.1:1", "test-proxy"))
        heard: list[dict[str, object]] = []

        async def on_state(message: LocalMessage) -> None:
            heard.append(json.loads(message.payload))

        await bus.subscribe_local(SITE_DEVICES_TOPIC, on_state)
        stop = asyncio.Event()
        announcing = asyncio.create_task(proxy._announce(bus, stop))  # with the device summary
        await eventually(lambda: bool(heard))
        stop.set()
        await announcing
        assert heard[0]["removed"] == ["bed-1"] and heard[0]["added"] == ["spare"]
        assert heard[0]["conflicts"] == [{"device_id": "spare", "detail": site.conflicts[0].detail}]
    finally:
        async with proxy._lock:
            await proxy._stop_all()
