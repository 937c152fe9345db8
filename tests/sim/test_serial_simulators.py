"""The serial and LAN simulators against the real gateway side (transport + codec).

Each simulator writes to a real pty (or socket); the gateway side is the real
``SerialTransport`` and codec, with the codec's replies (ACK/NAK) written back,
as the device worker does. The simulated patient's canaries must arrive in the
``PatientContext`` and nowhere else.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tty
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.waiting import eventually
from wardlink.codecs.astm_e1381 import ACK, ENQ, EOT, NAK, STX, AstmE1381Codec
from wardlink.codecs.base import CodecEvent, DecodeContext, Decoded, FrameError, Reply, StreamCodec
from wardlink.codecs.hl7_mllp import Hl7MllpCodec
from wardlink.codecs.nonin2 import Nonin2Codec
from wardlink.sim import patients as patients_module
from wardlink.sim.astm import AstmSimulator
from wardlink.sim.base import PtyDevice, Simulator
from wardlink.sim.hl7 import Hl7Simulator
from wardlink.sim.nonin import NoninSimulator
from wardlink.sim.patients import make_patient
from wardlink.sim.registry import (
    RunnableSimulator,
    SimOptions,
    all_simulators,
    create_simulator,
    get_simulator,
    register_simulator,
)
from wardlink.transports.base import Backoff
from wardlink.transports.serial import SerialSettings, SerialTransport

FAST = Backoff(initial=0.02, maximum=0.2)
TIMEOUT = 10.0


class Gateway:
    """Transport -> codec -> replies, collecting events: a minimal device worker."""

    def __init__(self, path: str, codec: StreamCodec) -> None:
        self.transport = SerialTransport(SerialSettings(path=path), backoff=FAST)
        self.codec = codec
        self.events: list[CodecEvent] = []
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for chunk in self.transport.chunks():
            for event in self.codec.feed(chunk.data):
                if isinstance(event, Reply):
                    await self.transport.write(event.data)
                else:
                    self.events.append(event)

    def decoded(self) -> list[Decoded]:
        return [e for e in self.events if isinstance(e, Decoded)]

    def errors(self) -> list[FrameError]:
        return [e for e in self.events if isinstance(e, FrameError)]

    async def close(self) -> None:
        await self.transport.close()
        await asyncio.wait_for(self.task, TIMEOUT)


@pytest.fixture
async def cleanup() -> AsyncIterator[list[Simulator | Gateway]]:
    things: list[Simulator | Gateway] = []
    yield things
    for thing in reversed(things):
        with contextlib.suppress(Exception):
            await thing.close()


def assert_no_canary(sim: Simulator, decoded: list[Decoded]) -> None:
    for message in decoded:
        for obs in message.observations:
            dumped = obs.model_dump_json()
            for canary in sim.phi_canaries():
                assert canary not in dumped


# -- patients --------------------------------------------------------------------------


def test_patients_are_reproducible_and_distinct() -> None:
    assert make_patient(4) == make_patient(4)
    assert make_patient(4).mrn != make_patient(5).mrn
    patient = make_patient(4)
    assert "-" in patient.family_name  # double-barrelled: a distinctive canary
    assert patient.phone.split("-")[1] == "555"
    assert patient.ssn.startswith("9")
    assert all(len(c) >= 6 for c in patient.canaries())
    assert patient.dob_compact in patient.canaries()


def test_patients_without_faker_use_the_built_in_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(patients_module, "_faker", lambda seed: None)
    patient = make_patient(9)
    assert patient == make_patient(9)
    assert patient.family_name.split("-")[0] in patients_module._LAST


# -- registry ----------------------------------------------------------------------------


def test_registry_lists_and_creates_simulators() -> None:
    names = set(all_simulators())
    assert {"nonin-2", "astm-e1381", "hl7-mllp"} <= names
    sim = create_simulator("nonin-2", SimOptions(seed=1))
    assert isinstance(sim, RunnableSimulator)
    assert get_simulator("hl7-mllp").description.startswith("bedside monitor")
    with pytest.raises(KeyError, match="unknown simulator"):
        get_simulator("no-such-device")
    with pytest.raises(ValueError, match="registered twice"):
        register_simulator("nonin-2")(AstmSimulator)


# -- Nonin ---------------------------------------------------------------------------------


async def test_nonin_simulator_streams_packets_the_codec_decodes(
    tmp_path: Path, cleanup: list[Simulator | Gateway]
) -> None:
    sim = NoninSimulator(SimOptions(pty_link=tmp_path / "nonin", rate_hz=50, seed=2))
    cleanup.append(sim)
    assert "pty /dev/" in await sim.start()
    gateway = Gateway(str(tmp_path / "nonin"), Nonin2Codec(DecodeContext(device_id="oxi")))
    cleanup.append(gateway)
    await eventually(lambda: gateway.transport.connected)
    for _ in range(5):
        await sim.send_one()
    await eventually(lambda: len(gateway.decoded()) >= 5)
    for message in gateway.decoded():
        hr, spo2 = message.observations
        assert hr.value is not None and 40 <= hr.value <= 180
        assert spo2.value is not None and 85 <= spo2.value <= 100
        assert message.patient is None  # format #2 has no patient fields
    assert not gateway.errors()
    assert sim.phi_canaries() == sim.patient.canaries()
    assert_no_canary(sim, gateway.decoded())


async def test_nonin_faults_garbage_disconnect_and_silence(
    tmp_path: Path, cleanup: list[Simulator | Gateway]
) -> None:
    link = tmp_path / "nonin"
    sim = NoninSimulator(
        SimOptions(pty_link=link, rate_hz=40, seed=3, settings={"garbage_every": "3"})
    )
    cleanup.append(sim)
    await sim.start()
    gateway = Gateway(str(link), Nonin2Codec(DecodeContext(device_id="oxi")))
    cleanup.append(gateway)
    await eventually(lambda: gateway.transport.connected)
    stop = asyncio.Event()
    runner = asyncio.create_task(sim.run(stop))
    try:
        # garbage every third packet: errors are reported and decoding goes on
        await eventually(lambda: len(gateway.decoded()) >= 6 and bool(gateway.errors()))
        # unplug and replug: the transport recovers by itself
        sim.faults.request_disconnect()
        await eventually(lambda: gateway.transport.reconnects >= 1)
        before = len(gateway.decoded())
        await eventually(lambda: len(gateway.decoded()) >= before + 3)
        # silence: the device stays connected but sends nothing
        sim.faults.go_silent(3600)
        await asyncio.sleep(0.1)
        sent = sim.sent
        await asyncio.sleep(0.2)
        assert sim.sent == sent
        assert gateway.transport.connected
    finally:
        stop.set()
        await asyncio.wait_for(runner, TIMEOUT)


# -- ASTM ------------------------------------------------------------------------------------


async def test_astm_simulator_handshakes_with_the_codec(
    tmp_path: Path, cleanup: list[Simulator | Gateway]
) -> None:
    link = tmp_path / "astm"
    sim = AstmSimulator(SimOptions(pty_link=link, seed=11, settings={"reply_timeout": "5"}))
    cleanup.append(sim)
    await sim.start()
    gateway = Gateway(str(link), AstmE1381Codec(DecodeContext(device_id="poc-1")))
    cleanup.append(gateway)
    await eventually(lambda: gateway.transport.connected)
    await sim.send_one()
    assert sim.delivered == 1 and sim.pending is None
    await eventually(lambda: len(gateway.decoded()) == 1)
    (message,) = gateway.decoded()
    (glucose,) = [o for o in message.observations if o.metric.mdc_code == 160184]
    assert glucose.unit == "mg/dL" and glucose.value is not None
    assert message.patient is not None
    values = message.patient.values()
    p = sim.patient
    for canary in (
        p.mrn,
        p.visit_number,
        p.family_name,
        p.birth_date.isoformat(),
        p.street,
        p.phone,
    ):
        assert any(canary in v for v in values), "canary missing from the patient context"
    assert_no_canary(sim, gateway.decoded())
    assert not gateway.errors()


async def test_astm_simulator_keeps_the_message_when_the_receiver_is_busy(
    tmp_path: Path, cleanup: list[Simulator | Gateway]
) -> None:
    link = tmp_path / "astm"
    sim = AstmSimulator(SimOptions(pty_link=link, seed=12, settings={"reply_timeout": "5"}))
    cleanup.append(sim)
    await sim.start()
    codec = AstmE1381Codec(DecodeContext(device_id="poc-1"))
    codec.set_busy(True)
    gateway = Gateway(str(link), codec)
    cleanup.append(gateway)
    await eventually(lambda: gateway.transport.connected)
    await sim.send_one()
    assert sim.delivered == 0 and sim.pending is not None
    kept = list(sim.pending)
    codec.set_busy(False)
    await sim.send_one()
    assert sim.delivered == 1
    await eventually(lambda: len(gateway.decoded()) == 1)
    assert sim.pending is None
    assert kept[1].startswith("P|1|" + sim.patient.mrn)


async def test_astm_sender_retransmits_a_naked_frame(tmp_path: Path) -> None:
    """A scripted receiver on the other end of the pty NAKs the first frame once."""
    sim = AstmSimulator(
        SimOptions(pty_link=tmp_path / "astm", seed=13, settings={"reply_timeout": "5"})
    )
    await sim.start()
    assert sim.pty.slave_path
    fd = os.open(sim.pty.slave_path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    tty.setraw(fd)
    frames: list[bytes] = []

    async def receiver() -> None:
        buffer = bytearray()
        naked = False
        while True:
            await asyncio.sleep(0.005)
            with contextlib.suppress(BlockingIOError):
                buffer += os.read(fd, 4096)
            while buffer:
                if buffer[0] == ENQ:
                    del buffer[:1]
                    os.write(fd, bytes([ACK]))
                elif buffer[0] == EOT:
                    return
                elif buffer[0] == STX and b"\r\n" in buffer:
                    end = buffer.index(b"\r\n") + 2
                    frames.append(bytes(buffer[:end]))
                    del buffer[:end]
                    os.write(fd, bytes([NAK if not naked else ACK]))
                    naked = True
                else:
                    break

    task = asyncio.create_task(receiver())
    try:
        assert await sim.transmit(sim.next_message())
        await asyncio.wait_for(task, TIMEOUT)
        assert frames[0] == frames[1]  # the NAKed frame came again, unchanged
        assert frames[2][1:2] == b"2"
    finally:
        os.close(fd)
        await sim.close()


# -- HL7 over a serial line ------------------------------------------------------------------


async def test_hl7_simulator_over_a_pty(tmp_path: Path, cleanup: list[Simulator | Gateway]) -> None:
    link = tmp_path / "hl7"
    sim = Hl7Simulator(SimOptions(pty_link=link, seed=21))
    cleanup.append(sim)
    await sim.start()
    gateway = Gateway(str(link), Hl7MllpCodec(DecodeContext(device_id="mon-1")))
    cleanup.append(gateway)
    await eventually(lambda: gateway.transport.connected)
    await sim.send_one()
    await sim.send_one()
    assert sim.acks == ["AA", "AA"] and sim.delivered == 2
    decoded = gateway.decoded()
    assert len(decoded) == 2
    assert len(decoded[0].observations) == 7
    patient = decoded[0].patient
    assert patient is not None
    values = patient.values()
    p = sim.patient
    for expected in (
        p.mrn,
        p.ssn,
        p.account_number,
        p.visit_number,
        p.phone,
        p.street,
        p.next_of_kin.phone,
        p.family_name,
    ):
        assert any(expected in v for v in values), "canary missing from the patient context"
    assert_no_canary(sim, decoded)


async def test_pty_device_read_byte_skips_other_bytes() -> None:
    device = PtyDevice()
    device.open()
    try:
        assert device.slave_path
        fd = os.open(device.slave_path, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(fd)
        os.write(fd, b"xx\x06yy")
        assert await device.read_byte(frozenset({0x06}), TIMEOUT) == 0x06
        assert await device.read(TIMEOUT) == b"yy"
        assert await device.read_byte(frozenset({0x06}), 0.05) is None
        os.close(fd)
    finally:
        device.close()
