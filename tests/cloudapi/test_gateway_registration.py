"""The gateway registers the devices it proxies, through the signed API, as the policy allows."""

from __future__ import annotations

import asyncio

from tests.support.waiting import eventually
from wardlink.bus.port import LocalMessage
from wardlink.cloudclient import WardlinkApiClient
from wardlink.model import Connectivity, DeviceIdentity
from wardlink.phi.policy import RedactionPolicy
from wardlink.uplink.registrar import DeviceRegistrar


def _announcement(policy: RedactionPolicy, connectivity: Connectivity) -> LocalMessage:
    device = DeviceIdentity(
        device_id="bed-5-oximeter",
        model="Nonin OEM III",
        manufacturer="Nonin",
        serial_number="SN-5551234",
        firmware_version="1.2.0.4",
    )
    body = b"[" + policy.redact_device(device, connectivity).to_json_bytes() + b"]"
    return LocalMessage("wardlink/local/devices", body)


async def test_devices_are_registered_and_follow_connectivity(
    api: WardlinkApiClient, unique: str
) -> None:
    gateway = f"gw-{unique}"
    registrar = DeviceRegistrar(lambda: api, gateway, site_id=f"site-{unique}")
    stop = asyncio.Event()
    task = asyncio.create_task(registrar.run(stop))
    policy = RedactionPolicy.default()
    await registrar.on_local_devices(_announcement(policy, Connectivity.CONNECTED))
    await registrar.on_local_devices(_announcement(policy, Connectivity.CONNECTED))  # no change
    await eventually(lambda: registrar.counters.registered == 1)
    device = await asyncio.to_thread(api.get_device, f"{gateway}/bed-5-oximeter")
    assert device is not None
    assert (device.model, device.firmware_version, str(device.status)) == (
        "Nonin OEM III",
        "1.2.0.4",
        "connected",
    )
    assert device.serial_number is None  # the default policy keeps serial numbers home

    await registrar.on_local_devices(_announcement(policy, Connectivity.SILENT))
    await eventually(lambda: registrar.counters.registered == 2)
    fleet = await asyncio.to_thread(
        lambda: list(api.iter_devices(model="Nonin OEM III", firmware_version="1.2.0.4"))
    )
    assert any(d.device_id == "bed-5-oximeter" and str(d.status) == "silent" for d in fleet)
    stop.set()
    await task


async def test_an_unreachable_api_is_retried_without_raising(unique: str) -> None:
    calls = []

    class Down:
        def register_device(self, **fields: object) -> None:
            calls.append(fields)
            raise ConnectionError("API unreachable")

    registrar = DeviceRegistrar(Down, f"gw-{unique}")
    stop = asyncio.Event()
    task = asyncio.create_task(registrar.run(stop))
    await registrar.on_local_devices(
        LocalMessage(
            "t",
            b'[{"device_id": "d1", "model": "M", "connectivity": "connected"}]',
        )
    )
    await registrar.on_local_devices(LocalMessage("t", b"not json"))
    await eventually(lambda: registrar.counters.failures >= 1)
    stop.set()
    await task
    assert calls and registrar.counters.registered == 0
