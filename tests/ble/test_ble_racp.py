"""Glucose record sync over RACP against a Bumble glucose meter.

Done-when of issue 3: a meter holding 500 stored records syncs them all over
RACP; after a reconnect, only the new ones come across.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from bleak import BleakClient

from tests.ble.conftest import Air
from wardlink.codecs import DecodeContext
from wardlink.codecs._ble_common import CHAR_CURRENT_TIME, CHAR_RACP
from wardlink.codecs.ble_glucose import GlucoseMeasurementCodec
from wardlink.devices.racp import (
    GlucoseSync,
    RacpCount,
    RacpResponse,
    SyncStateStore,
    parse_racp,
    request_abort,
    request_all,
    request_count,
    request_from,
)
from wardlink.model import Observation
from wardlink.sim.ble_glucose import GlucoseMeterSim
from wardlink.transports.base import Chunk

WAIT = 20.0


def glucose_link(air: Air, meter: GlucoseMeterSim):  # type: ignore[no-untyped-def]
    return air.transport(meter, "2a18", "2a34", "2a52", pair=True, read_on_connect=("2a2b",))


def sequences(observations: list[Observation]) -> list[int]:
    return [
        int(flag.split(":")[1])
        for obs in observations
        if obs.metric.mdc_name.startswith("MDC_CONC_GLU")
        for flag in obs.flags
        if flag.startswith("record-seq:")
    ]


async def test_racp_syncs_500_records_then_only_new_ones(air: Air, tmp_path: Path) -> None:
    meter = await air.add(GlucoseMeterSim, records=500)
    transport = glucose_link(air, meter)
    store = SyncStateStore(tmp_path)
    sync = GlucoseSync(transport, "glucose-7", store, timeout=WAIT)
    codec = GlucoseMeasurementCodec(
        DecodeContext(device_id="glucose-7", now=lambda: datetime.now(UTC))
    )
    observations: list[Observation] = []

    async def read() -> None:
        async for chunk in sync.chunks():
            if chunk.source != CHAR_CURRENT_TIME:
                observations.extend(codec.decode_source(chunk.source, chunk.data).observations)

    reader = asyncio.create_task(read())
    try:
        first = await asyncio.wait_for(sync.wait_results(1), WAIT)
        assert (first.requested_from, first.received, first.last_sequence) == (None, 500, 500)
        assert first.completed and store.last("glucose-7") == 500
        await asyncio.sleep(0)  # let the reader drain the queue
        observations.extend(codec.flush().observations)
        assert sequences(observations) == list(range(1, 501))
        joined = [o for o in observations if any(f.startswith("meal:") for f in o.flags)]
        assert len(joined) == 100  # every 5th record carried a context, joined by sequence

        meter.add_records(7)
        await meter.disconnect_all()
        second = await asyncio.wait_for(sync.wait_results(2), WAIT)
        assert (second.requested_from, second.received, second.last_sequence) == (501, 7, 507)
        await asyncio.sleep(0)
        observations.extend(codec.flush().observations)
        assert sequences(observations) == list(range(1, 508))
        assert meter.procedures == 2
    finally:
        await transport.close()
        reader.cancel()

    # A gateway restart: a new sync with the same state dir asks from 508.
    meter.add_records(1)
    restarted = glucose_link(air, meter)
    again = GlucoseSync(restarted, "glucose-7", store, timeout=WAIT)
    drain = asyncio.create_task(_drain(again))
    try:
        third = await asyncio.wait_for(again.wait_results(1), WAIT)
        assert (third.requested_from, third.received, third.last_sequence) == (508, 1, 508)
    finally:
        await restarted.close()
        drain.cancel()


async def test_nothing_new_is_a_clean_no_records(air: Air, tmp_path: Path) -> None:
    meter = await air.add(GlucoseMeterSim, records=2)
    store = SyncStateStore(tmp_path)
    store.save("g2", 2)
    transport = glucose_link(air, meter)
    sync = GlucoseSync(transport, "g2", store, timeout=WAIT)
    drain = asyncio.create_task(_drain(sync))
    try:
        result = await asyncio.wait_for(sync.wait_results(1), WAIT)
        assert (result.requested_from, result.received, result.completed) == (3, 0, True)
        assert store.last("g2") == 2
    finally:
        await transport.close()
        drain.cancel()


async def _drain(sync: GlucoseSync) -> None:
    async for _chunk in sync.chunks():
        pass


async def test_racp_procedures_at_the_meter(air: Air) -> None:
    meter = await air.add(GlucoseMeterSim, records=12)
    responses: asyncio.Queue[RacpResponse | RacpCount] = asyncio.Queue()
    records: list[bytes] = []
    async with BleakClient(air.address_of(meter), backend=air.backends.client,
                           timeout=WAIT, pair=True) as client:
        await client.start_notify("2a18", lambda _c, data: records.append(bytes(data)))
        await client.start_notify(
            CHAR_RACP, lambda _c, data: responses.put_nowait(parse_racp(bytes(data))))

        async def ask(request: bytes) -> RacpResponse | RacpCount:
            await client.write_gatt_char(CHAR_RACP, request, response=True)
            return await asyncio.wait_for(responses.get(), WAIT)

        assert await ask(request_count()) == RacpCount(12)
        assert await ask(request_from(10)) == RacpResponse(0x01, 0x01)
        assert [int.from_bytes(r[1:3], "little") for r in records] == [10, 11, 12]
        assert await ask(request_from(13)) == RacpResponse(0x01, 0x06)  # no records found
        assert await ask(bytes([0x01, 0x07])) == RacpResponse(0x01, 0x04)  # operator unknown
        assert await ask(bytes([0x01, 0x03, 0x02, 0, 0])) == RacpResponse(0x01, 0x09)  # time filter
        assert await ask(bytes([0x09, 0x00])) == RacpResponse(0x09, 0x02)  # op code unknown
        assert await ask(bytes([0x01, 0x05])) == RacpResponse(0x01, 0x01)  # first record
        assert int.from_bytes(records[-1][1:3], "little") == 1
        assert await ask(request_abort()) == RacpResponse(0x03, 0x01)
        assert await ask(bytes([0x02, 0x02, 0x01, 0x05, 0x00])) == RacpResponse(0x02, 0x01)
        assert await ask(request_count()) == RacpCount(7)  # 1..5 deleted
        records.clear()
        assert await ask(request_all()) == RacpResponse(0x01, 0x01)
        assert len(records) == 7


def test_state_file_survives_damage(tmp_path: Path) -> None:
    store = SyncStateStore(tmp_path)
    assert store.last("x") is None
    store.save("x", 41)
    store.save("y", 7)
    assert (store.last("x"), store.last("y")) == (41, 7)
    store.path.write_text("{not json", encoding="utf-8")
    assert store.last("x") is None  # ask for everything again: duplicates, not loss


def test_chunk_source_is_the_characteristic() -> None:
    assert Chunk(b"", source=CHAR_RACP).source.startswith("00002a52")
