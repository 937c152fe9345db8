"""The UI's Bluetooth actions against Bumble peripherals: scan and add, sync stored records now.

``SiteDevices`` runs its devices the way the DeviceProxy does (``build_worker`` from
the shipped profiles, one task per worker) and scans through the BLE transport's
``scan`` - bleak with the dev kit's Bumble backend injected, as the demo does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.ble.conftest import Air
from tests.support.waiting import eventually
from wardlink.gateway.ble_link import BleDeviceLink, use_ble_backend
from wardlink.gateway.device_worker import DeviceWorker
from wardlink.gateway.proxy import build_worker
from wardlink.gateway.site_devices import DeviceOverlay, SiteDevices
from wardlink.gateway.spool_writer import SpoolWriter
from wardlink.phi.policy import RedactionPolicy
from wardlink.runtime.config import DeviceConfig
from wardlink.sim.ble_glucose import GlucoseMeterSim
from wardlink.sim.ble_thermometer import ThermometerSim
from wardlink.spool import Spool


class Runner:
    """Runs the devices it is given, one worker task each (the DeviceProxy's job)."""

    def __init__(self, tmp_path: Path, air: Air) -> None:
        self.state = tmp_path / "state"
        self.writer = SpoolWriter(Spool(tmp_path / "spool.sqlite3"), linger_s=0.01)
        self.stop = asyncio.Event()
        self.workers: dict[str, DeviceWorker] = {}
        self.tasks = [asyncio.create_task(self.writer.run(self.stop))]
        self.devices = SiteDevices(
            DeviceOverlay(tmp_path / "site-devices.json"), self.apply, self.workers.get
        )

    async def apply(self, devices: tuple[DeviceConfig, ...]) -> None:
        for device in devices:
            if device.device_id not in self.workers:
                worker = build_worker(device, RedactionPolicy(), self.writer, state_dir=self.state)
                self.workers[device.device_id] = worker
                self.tasks.append(asyncio.create_task(worker.run(self.stop)))

    async def close(self) -> None:
        self.stop.set()
        await asyncio.gather(*self.tasks, return_exceptions=True)


@pytest.fixture
async def runner(air: Air, tmp_path: Path) -> AsyncIterator[Runner]:
    use_ble_backend(air.backends)
    running = Runner(tmp_path, air)
    try:
        yield running
    finally:
        await running.close()
        use_ble_backend(None)


async def test_a_scan_finds_a_thermometer_which_is_then_added_and_read(
    air: Air, runner: Runner
) -> None:
    thermometer = await air.add(ThermometerSim)
    meter = await air.add(GlucoseMeterSim, records=0)
    address = air.address_of(thermometer)
    await runner.devices.deploy(
        (
            DeviceConfig.model_validate(
                {
                    "device_id": "glucose-1",
                    "profile": "ble-sig-glucose-meter",
                    "ble": {"address": air.address_of(meter)},
                }
            ),
        )
    )
    ok, detail, found = await runner.devices.scan(seconds=1.0)
    assert ok, detail
    by_address = {f["address"]: f for f in found}
    assert by_address[address]["services"] == ["Health Thermometer"]
    assert "ble-sig-health-thermometer" in by_address[address]["profiles"]
    assert by_address[address]["configured_as"] == ""
    assert by_address[air.address_of(meter)]["configured_as"] == "glucose-1"

    ok, detail = await runner.devices.add(
        {"device_id": "bed-5-thermo", "profile": "ble-sig-health-thermometer", "address": address}
    )
    assert ok, detail
    worker = runner.workers["bed-5-thermo"]
    await eventually(lambda: worker.transport.connected, timeout=20)
    await thermometer.wait_subscribed(thermometer.measurement)
    await thermometer.produce()
    await eventually(lambda: worker.counters.acquired >= 1, timeout=10)


async def test_sync_stored_records_now(air: Air, runner: Runner) -> None:
    meter = await air.add(GlucoseMeterSim, records=5)
    await runner.devices.deploy(
        (
            DeviceConfig.model_validate(
                {
                    "device_id": "glucose-1",
                    "profile": "ble-sig-glucose-meter",
                    "ble": {"address": air.address_of(meter)},
                }
            ),
        )
    )
    worker = runner.workers["glucose-1"]
    await eventually(lambda: worker.counters.acquired >= 5, timeout=20)  # the sync on connect
    link = worker.transport
    assert isinstance(link, BleDeviceLink)
    meter.add_records(3)
    ok, detail = await runner.devices.sync_records("glucose-1")
    assert ok, detail
    assert detail.startswith("3 stored records received (asked from record 6)"), detail
    await eventually(lambda: worker.counters.acquired >= 8, timeout=10)
