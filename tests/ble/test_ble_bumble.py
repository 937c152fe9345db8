"""bleak client code, unchanged, against Bumble-emulated health peripherals."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from bleak import BleakClient, BleakScanner
from bleak.exc import BleakGATTProtocolError

from tests.ble.conftest import Air
from wardlink.codecs import DecodeContext, get_codec
from wardlink.codecs._ble_common import (
    CHAR_BLOOD_PRESSURE_MEASUREMENT,
    CHAR_CURRENT_TIME,
    CHAR_HEART_RATE_MEASUREMENT,
    CHAR_PLX_CONTINUOUS,
    CHAR_PLX_SPOT_CHECK,
    CHAR_TEMPERATURE_MEASUREMENT,
    CHAR_WEIGHT_MEASUREMENT,
    SERVICE_HEART_RATE,
    apply_clock_offset,
    clock_offset,
    parse_device_clock,
)
from wardlink.codecs.base import Decoded
from wardlink.sim.ble_blood_pressure import BloodPressureSim
from wardlink.sim.ble_glucose import GlucoseMeterSim
from wardlink.sim.ble_heart_rate import HeartRateSim
from wardlink.sim.ble_pulse_oximeter import PulseOximeterSim
from wardlink.sim.ble_thermometer import ThermometerSim
from wardlink.sim.ble_weight import WeightScaleSim
from wardlink.transports.base import Chunk
from wardlink.transports.ble import BleTransport

WAIT = 10.0


def decoder(name: str) -> object:
    return get_codec(name)(DecodeContext(device_id="ble.test", now=lambda: datetime.now(UTC)))


async def next_chunk(chunks: object, source: str) -> Chunk:
    """The next chunk from ``source`` (skipping values read on connect)."""
    async def find() -> Chunk:
        while True:
            chunk: Chunk = await chunks.__anext__()  # type: ignore[attr-defined]
            if chunk.source == source:
                return chunk
    return await asyncio.wait_for(find(), WAIT)


async def test_plain_bleak_scanner_and_client(air: Air) -> None:
    hr = await air.add(HeartRateSim)
    bp = await air.add(BloodPressureSim)

    assert air.backends.scanner is not None
    device = await BleakScanner.find_device_by_filter(
        lambda d, ad: SERVICE_HEART_RATE in ad.service_uuids,
        timeout=WAIT, service_uuids=[SERVICE_HEART_RATE], backend=air.backends.scanner,
    )
    assert device is not None and device.address == air.address_of(hr)

    received: asyncio.Queue[bytes] = asyncio.Queue()
    async with BleakClient(device, backend=air.backends.client, timeout=WAIT) as client:
        assert client.is_connected and client.mtu_size > 23
        assert await client.read_gatt_char("2a24") == b"WL-HR-1"
        assert await client.read_gatt_char("2a19") == bytes([87])
        await client.start_notify("2a37", lambda _c, data: received.put_nowait(bytes(data)))
        await hr.wait_subscribed(hr.measurement)
        await hr.send(72, (800,))
        assert await asyncio.wait_for(received.get(), WAIT) == bytes.fromhex("16482003")
        await client.stop_notify("2a37")

    # An address string works too: the backend scans to resolve it, as bleak does.
    async with BleakClient(air.address_of(bp), backend=air.backends.client, timeout=WAIT) as client:
        indications: asyncio.Queue[bytes] = asyncio.Queue()
        await client.start_notify("2a35", lambda _c, data: indications.put_nowait(bytes(data)))
        await bp.wait_subscribed(bp.measurement)
        await bp.send(120, 80, 93, pulse=64)  # returns once our side confirmed
        value = await asyncio.wait_for(indications.get(), WAIT)
        assert value[0] & 0x0E == 0x0E  # time stamp, pulse, user id present
        await client.pair()
        assert next(iter(bp.device.connections.values())).is_encrypted


async def test_gatt_errors_reach_bleak_as_protocol_errors(air: Air) -> None:
    meter = await air.add(GlucoseMeterSim, records=3)
    async with BleakClient(air.address_of(meter), backend=air.backends.client,
                           timeout=WAIT) as client:
        with pytest.raises(BleakGATTProtocolError) as err:
            await client.write_gatt_char("2a52", bytes([1, 1]), response=True)  # not paired
        assert err.value.code in (0x05, 0x0F)  # insufficient authentication / encryption
        await client.pair()
        with pytest.raises(BleakGATTProtocolError) as err:
            await client.write_gatt_char("2a52", bytes([1, 1]), response=True)  # no CCCD yet
        assert err.value.code == 0xFD


async def test_transport_heart_rate_notifications_decode(air: Air) -> None:
    hr = await air.add(HeartRateSim)
    transport = air.transport(hr, "2a37")
    chunks = transport.chunks().__aiter__()
    await asyncio.wait_for(transport.wait_connected(), WAIT)
    await hr.wait_subscribed(hr.measurement)
    await hr.send(64, (1024,))
    chunk = await next_chunk(chunks, CHAR_HEART_RATE_MEASUREMENT)
    decoded: Decoded = decoder("ble:heart-rate-measurement").decode_source(  # type: ignore[attr-defined]
        chunk.source, chunk.data)
    assert [o.value for o in decoded.observations] == [64.0, 1.0]


async def test_transport_indications_and_device_clock(air: Air) -> None:
    bp = await air.add(BloodPressureSim, clock_skew=timedelta(hours=-5))
    thermo = await air.add(ThermometerSim)
    bp_link = air.transport(bp, "2a35", read_on_connect=("2a2b", "2a19"))
    th_link = air.transport(thermo, "2a1c")
    bp_chunks, th_chunks = bp_link.chunks().__aiter__(), th_link.chunks().__aiter__()

    clock = await next_chunk(bp_chunks, CHAR_CURRENT_TIME)
    offset = clock_offset(parse_device_clock(clock.data), datetime.now(UTC))
    assert abs(offset - timedelta(hours=5)) < timedelta(minutes=1)

    await bp.wait_subscribed(bp.measurement)
    await bp.send(118, 76, 90, pulse=66)
    chunk = await next_chunk(bp_chunks, CHAR_BLOOD_PRESSURE_MEASUREMENT)
    decoded = decoder("ble:blood-pressure-measurement").decode(chunk.data)  # type: ignore[attr-defined]
    corrected = apply_clock_offset(decoded, offset)
    systolic = corrected.observations[0]
    assert systolic.value == 118.0
    assert abs(systolic.measured_at - datetime.now(UTC)) < timedelta(minutes=1)
    assert "device-time-corrected" in systolic.flags
    assert decoded.patient is not None  # the BP sim reports user index 1

    await thermo.wait_subscribed(thermo.measurement)
    await thermo.send("36.6")
    chunk = await next_chunk(th_chunks, CHAR_TEMPERATURE_MEASUREMENT)
    (temp,) = decoder("ble:temperature-measurement").decode(chunk.data).observations  # type: ignore[attr-defined]
    assert (temp.value, temp.unit) == (36.6, "Cel")


async def test_peripheral_that_disconnects_is_recovered_without_restart(air: Air) -> None:
    hr = await air.add(HeartRateSim)
    transport = air.transport(hr, "2a37")
    chunks = transport.chunks().__aiter__()
    await asyncio.wait_for(transport.wait_connected(), WAIT)
    for round_ in range(3):
        await hr.wait_subscribed(hr.measurement)
        await hr.send(70 + round_)
        chunk = await next_chunk(chunks, CHAR_HEART_RATE_MEASUREMENT)
        assert chunk.data[1] == 70 + round_
        await hr.disconnect_all()  # the device walks away and comes back
    await hr.wait_subscribed(hr.measurement)
    await hr.send(99)
    assert (await next_chunk(chunks, CHAR_HEART_RATE_MEASUREMENT)).data[1] == 99
    assert transport.reconnects == 3


async def test_allow_list_keeps_to_its_own_device(air: Air) -> None:
    stranger = await air.add(HeartRateSim)
    ours = await air.add(HeartRateSim)
    transport = air.transport(ours, "2a37")
    transport.start()
    await asyncio.wait_for(transport.wait_connected(), WAIT)
    assert transport.address == air.address_of(ours)
    assert not stranger.is_connected


async def test_pulse_oximeter_fault_and_weight_scale(air: Air) -> None:
    plx = await air.add(PulseOximeterSim)
    scale = await air.add(WeightScaleSim)
    plx_link = air.transport(plx, "2a5e", "2a5f")
    scale_link = air.transport(scale, "2a9d", pair=True)
    plx_chunks, scale_chunks = plx_link.chunks().__aiter__(), scale_link.chunks().__aiter__()

    await plx.wait_subscribed(plx.continuous)
    await plx.wait_subscribed(plx.spot_check)
    await plx.fault()
    chunk = await next_chunk(plx_chunks, CHAR_PLX_CONTINUOUS)
    decoded = decoder("ble:plx-continuous").decode(chunk.data)  # type: ignore[attr-defined]
    assert decoded.status is not None and "sensor-disconnected" in decoded.status.error_codes
    await plx.send_spot_check(97, 61, pai="3.1")
    chunk = await next_chunk(plx_chunks, CHAR_PLX_SPOT_CHECK)
    values = [o.value for o in decoder("ble:plx-spot-check").decode(chunk.data).observations]  # type: ignore[attr-defined]
    assert values == [97.0, 61.0, 3.1]

    await scale.wait_subscribed(scale.measurement)
    await scale.send(14001, 229, 1750)
    chunk = await next_chunk(scale_chunks, CHAR_WEIGHT_MEASUREMENT)
    weight = decoder("ble:weight-measurement").decode(chunk.data).observations[0]  # type: ignore[attr-defined]
    assert (weight.value, weight.unit) == (70.005, "kg")
    assert next(iter(scale.device.connections.values())).is_encrypted  # bonded on request


async def test_transport_refuses_writes_while_down(air: Air) -> None:
    hr = await air.add(HeartRateSim)
    transport: BleTransport = air.transport(hr, "2a37")
    from wardlink.transports.base import TransportError

    with pytest.raises(TransportError):
        await transport.write(b"\x01", target="2a39")
