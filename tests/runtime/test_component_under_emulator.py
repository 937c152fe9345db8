"""The component runner under Greengrass: configuration over IPC, and updates at run time.

The DeviceProxy runs in this process through ``run_component`` with the
environment Greengrass gives a component (socket path and SVCUID), against the
nucleus emulator. A deployment-style UpdateConfiguration through the real IPC
client adds a device while it runs, then removes it.
"""

from __future__ import annotations

import asyncio
import os
import tty
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.greengrass.support import TIMEOUT, start_emulator
from tests.support.waiting import eventually
from wardlink.codecs.nonin2 import encode_packet
from wardlink.gateway.proxy import DeviceProxy
from wardlink.runtime.runner import run_component
from wardlink.spool import Spool

pytestmark = pytest.mark.integration


def _now(offset_s: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=offset_s)


async def test_proxy_follows_configuration_updates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool_path = tmp_path / "spool" / "wardlink.sqlite3"
    running = start_emulator(tmp_path)
    try:
        component = "com.wardlink.DeviceProxy"
        admin = running.client(component)
        admin.update_configuration_async(
            key_path=[],
            value_to_merge={"spool": {"path": str(spool_path)}, "devices": []},
            timestamp=_now(0),
        ).result(TIMEOUT)
        monkeypatch.setenv(
            "AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT", str(running.socket_path)
        )
        monkeypatch.setenv("SVCUID", running.emulator.tokens[component])
        monkeypatch.setenv("AWS_IOT_THING_NAME", "wardlink-dev-gateway")

        proxy = DeviceProxy()
        stop = asyncio.Event()
        task = asyncio.create_task(run_component(proxy, stop=stop))
        await eventually(lambda: proxy.writer is not None)
        assert proxy.workers == []

        master, slave = os.openpty()
        tty.setraw(slave)
        device = {
            "deviceId": "bed-9-spo2",
            "profile": "sim-nonin-oem3",
            "serial": {"path": os.ttyname(slave)},
        }
        await asyncio.to_thread(
            lambda: admin.update_configuration_async(
                key_path=[], value_to_merge={"devices": [device]}, timestamp=_now(1)
            ).result(TIMEOUT)
        )
        await eventually(lambda: len(proxy.workers) == 1 and proxy.workers[0].transport.connected)
        for _ in range(10):
            os.write(master, encode_packet(70, 98))
            await asyncio.sleep(0.05)
        await eventually(lambda: proxy.workers[0].counters.acquired >= 20)

        await asyncio.to_thread(
            lambda: admin.update_configuration_async(
                key_path=[], value_to_merge={"devices": []}, timestamp=_now(2)
            ).result(TIMEOUT)
        )
        await eventually(lambda: proxy.workers == [])
        stop.set()
        assert await asyncio.wait_for(task, timeout=20) == 0
        os.close(master)
        os.close(slave)
    finally:
        running.stop()
    spool = Spool(spool_path)
    stats = spool.stats()
    spool.close()
    assert stats.depth_by_kind.get("telemetry", 0) >= 20
    assert stats.depth_by_kind.get("status", 0) >= 1  # connected, then disconnected
