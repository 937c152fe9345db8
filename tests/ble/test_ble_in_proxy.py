"""BLE devices in the DeviceProxy pipeline, declared by profile only.

The worker is built by ``build_worker`` from the shipped profiles, exactly as the
DeviceProxy builds it from site configuration; bleak runs on the Bumble backend.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from tests.ble.conftest import Air
from tests.support.waiting import eventually
from wardlink.gateway.ble_link import use_ble_backend
from wardlink.gateway.proxy import build_worker
from wardlink.gateway.spool_writer import SpoolWriter
from wardlink.model import RecordKind
from wardlink.phi.policy import RedactionPolicy
from wardlink.runtime.config import BleDeviceConfig, DeviceConfig
from wardlink.sim.ble_glucose import GlucoseMeterSim
from wardlink.sim.ble_heart_rate import HeartRateSim
from wardlink.spool import Spool


def _telemetry(spool: Spool) -> list[dict[str, object]]:
    records = spool.read(
        after_seq={0: 10**9, 1: 10**9, 2: 10**9}, max_items=10_000, max_bytes=10**9
    )
    return [json.loads(r.body) for r in records if r.kind is RecordKind.TELEMETRY]


async def _run_device(air: Air, tmp_path: Path, device: DeviceConfig, until) -> Spool:  # type: ignore[no-untyped-def]
    use_ble_backend(air.backends)
    spool = Spool(tmp_path / "spool.sqlite3")
    writer = SpoolWriter(spool, linger_s=0.01)
    worker = build_worker(device, RedactionPolicy(), writer, state_dir=tmp_path / "state")
    stop = asyncio.Event()
    tasks = [asyncio.create_task(worker.run(stop)), asyncio.create_task(writer.run(stop))]
    try:
        await eventually(lambda: until(worker), timeout=30)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        use_ble_backend(None)
    return spool


async def test_heart_rate_sensor_by_profile(air: Air, tmp_path: Path) -> None:
    sensor = await air.add(HeartRateSim)
    device = DeviceConfig(
        device_id="chest-strap-1",
        profile="sim-ble-heart-rate",
        ble=BleDeviceConfig(address=air.address_of(sensor)),
    )

    async def beat() -> None:  # the sensor notifies once a second on its own; faster here
        while True:
            await asyncio.sleep(0.1)
            if sensor.device.connections:
                await sensor.produce()

    beating = asyncio.create_task(beat())
    try:
        spool = await _run_device(air, tmp_path, device, lambda w: w.counters.acquired >= 5)
    finally:
        beating.cancel()
    names = {t["mdc_name"] for t in _telemetry(spool)}
    assert "MDC_ECG_HEART_RATE" in names


async def test_glucose_meter_records_sync_through_the_pipeline(air: Air, tmp_path: Path) -> None:
    meter = await air.add(GlucoseMeterSim, records=40)
    device = DeviceConfig(
        device_id="glucose-home-1",
        profile="sim-ble-glucose",
        ble=BleDeviceConfig(address=air.address_of(meter)),
    )
    spool = await _run_device(
        air,
        tmp_path,
        device,
        lambda w: w.counters.acquired >= 40,
    )
    glucose = [t for t in _telemetry(spool) if str(t["mdc_name"]).startswith("MDC_CONC_GLU")]
    sequences = {f for t in glucose for f in t.get("flags", []) if str(f).startswith("record-seq:")}
    assert len(sequences) == 40
    assert (tmp_path / "state" / "racp-state.json").exists()
