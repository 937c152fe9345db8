"""The BLE simulators as ``wardlink sim`` runs them: in-process and as a process."""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys
from pathlib import Path

from tests.ble.conftest import FAST_BACKOFF
from wardlink.codecs._ble_common import CHAR_HEART_RATE_MEASUREMENT, CHAR_TEMPERATURE_MEASUREMENT
from wardlink.devices.racp import GlucoseSync, SyncStateStore
from wardlink.sim.ble_peripheral import shared_link
from wardlink.sim.bleak_bumble import BumbleCentral
from wardlink.sim.registry import SimOptions, all_simulators, create_simulator
from wardlink.transports.ble import BleSettings, BleTransport

WAIT = 15.0
BLE_SIMS = {
    "ble-glucose", "ble-blood-pressure", "ble-heart-rate", "ble-thermometer",
    "ble-pulse-oximeter", "ble-weight-scale",
}


def test_ble_simulators_are_registered() -> None:
    assert set(all_simulators()) >= BLE_SIMS
    sim = create_simulator("ble-weight-scale")
    assert sim.phi_canaries() == ()


async def test_simulators_on_a_shared_in_process_link(tmp_path: Path) -> None:
    heart = create_simulator("ble-heart-rate", SimOptions(rate_hz=50, settings={"link": "t-air"}))
    meter = create_simulator(
        "ble-glucose", SimOptions(settings={"link": "t-air", "records": "40"})
    )
    where = await heart.start()
    await meter.start()
    assert "C0:57:00:00:18:0D" in where
    central = BumbleCentral.on_link(shared_link("t-air"))
    stop = asyncio.Event()
    runner = asyncio.create_task(heart.run(stop))
    hr_link = BleTransport(
        BleSettings(service_uuids=("180d",), characteristics=("2a37",),
                    addresses=("C0:57:00:00:18:0D",)),
        backoff=FAST_BACKOFF, backend=central.bleak_backends(),
    )
    glucose_link = BleTransport(
        BleSettings(service_uuids=("1808",), characteristics=("2a18", "2a34", "2a52"),
                    addresses=("C0:57:00:00:18:08",), pair=True),
        backoff=FAST_BACKOFF, backend=central.bleak_backends(),
    )
    sync = GlucoseSync(glucose_link, "g-sim", SyncStateStore(tmp_path))
    drain = asyncio.create_task(_drain(sync))
    try:
        chunk = await asyncio.wait_for(hr_link.chunks().__anext__(), WAIT)
        assert chunk.source == CHAR_HEART_RATE_MEASUREMENT
        result = await asyncio.wait_for(sync.wait_results(1), WAIT)
        assert (result.received, result.last_sequence) == (40, 40)
    finally:
        stop.set()
        await runner
        drain.cancel()
        await hr_link.close()
        await glucose_link.close()
        await heart.close()
        await meter.close()
        await central.close()


async def _drain(sync: GlucoseSync) -> None:
    async for _chunk in sync.chunks():
        pass


async def test_standalone_simulator_process_is_reachable_over_hci_tcp() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "wardlink.cli.main", "sim", "ble-thermometer",
        "--port", "0", "--rate", "10",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )
    central: BumbleCentral | None = None
    transport: BleTransport | None = None
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), WAIT)).decode()
        spec = re.search(r"tcp-client:\S+", line)
        address = re.search(r"BLE (\S+);", line)
        assert spec and address, line
        central = await BumbleCentral.open(spec.group(0))
        transport = BleTransport(
            BleSettings(service_uuids=("1809",), characteristics=("2a1c",),
                        addresses=(address.group(1),)),
            backoff=FAST_BACKOFF, backend=central.bleak_backends(),
        )
        chunk = await asyncio.wait_for(transport.chunks().__anext__(), WAIT)
        assert chunk.source == CHAR_TEMPERATURE_MEASUREMENT
    finally:
        if transport is not None:
            await transport.close()
        if central is not None:
            await central.close()
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), WAIT)
        if process.returncode is None:
            process.kill()
            await process.wait()
