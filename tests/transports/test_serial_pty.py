"""SerialTransport over real pseudo-terminals (and socat), no mocks.

A pty's name cannot be chosen or reused, so the device is reached through a
symlink the test re-points when it "replugs" the device - the way udev's
/dev/serial/by-id links behave. USB VID:PID selection is tested by replacing
``serial.tools.list_ports.comports`` (there is no USB here), the one allowed fake.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from serial.tools import list_ports
from serial.tools.list_ports_common import ListPortInfo

from tests.support.waiting import eventually
from wardlink.sim.base import PtyDevice
from wardlink.transports.base import Backoff
from wardlink.transports.serial import SerialSettings, SerialTransport, find_usb_port

FAST = Backoff(initial=0.02, maximum=0.2)
TIMEOUT = 10.0


class Reader:
    """Drains a transport in the background, like a device worker would."""

    def __init__(self, transport: SerialTransport) -> None:
        self.transport = transport
        self.data = bytearray()
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for chunk in self.transport.chunks():
            self.data += chunk.data

    async def wait_for(self, expected: bytes) -> None:
        await eventually(lambda: expected in self.data)

    async def stop(self) -> None:
        await self.transport.close()
        await asyncio.wait_for(self.task, TIMEOUT)


@pytest.fixture
async def reader_factory() -> AsyncIterator[Callable[[SerialTransport], Reader]]:
    readers: list[Reader] = []

    def make(transport: SerialTransport) -> Reader:
        reader = Reader(transport)
        readers.append(reader)
        return reader

    yield make
    for reader in readers:
        with contextlib.suppress(Exception):
            await reader.stop()


async def test_data_flows_both_ways_through_a_symlinked_pty(
    tmp_path: Path, reader_factory: Callable[[SerialTransport], Reader]
) -> None:
    device = PtyDevice(tmp_path / "ttyDEVICE")
    device.open()
    try:
        transport = SerialTransport(SerialSettings(path=str(device.path)), backoff=FAST)
        reader = reader_factory(transport)
        await eventually(lambda: transport.connected)
        device.write(b"\x05hello device")
        await reader.wait_for(b"\x05hello device")
        await transport.write(b"\x06")
        assert await device.read_byte(frozenset({0x06}), TIMEOUT) == 0x06
    finally:
        device.close()


async def test_unplugged_pty_is_reopened_without_a_restart(
    tmp_path: Path, reader_factory: Callable[[SerialTransport], Reader]
) -> None:
    device = PtyDevice(tmp_path / "ttyDEVICE")
    device.open()
    first_path = device.slave_path
    try:
        transport = SerialTransport(SerialSettings(path=str(device.path)), backoff=FAST)
        reader = reader_factory(transport)
        await eventually(lambda: transport.connected)
        device.write(b"before")
        await reader.wait_for(b"before")

        await device.reopen(gap_s=0.3)  # cable out, 0.3 s, cable in (a new pty)
        assert device.slave_path != first_path or device.slave_path is not None
        await eventually(lambda: transport.reconnects >= 1 and transport.connected)
        device.write(b"after")
        await reader.wait_for(b"after")
        await transport.write(b"ack")
        assert await device.read_byte(frozenset(b"a"), TIMEOUT) == ord("a")
        assert not reader.task.done()
    finally:
        device.close()


@pytest.mark.skipif(shutil.which("socat") is None, reason="socat is not installed")
async def test_socat_pair_killed_and_restarted_recovers(
    tmp_path: Path, reader_factory: Callable[[SerialTransport], Reader]
) -> None:
    device_end, test_end = tmp_path / "ttyDEVICE", tmp_path / "ttyTEST"

    def start_socat() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                "socat",
                "-d",
                "-d",
                f"pty,raw,echo=0,link={device_end}",
                f"pty,raw,echo=0,link={test_end}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    socat = start_socat()
    try:
        await eventually(lambda: device_end.exists() and test_end.exists())
        transport = SerialTransport(SerialSettings(path=str(device_end)), backoff=FAST)
        reader = reader_factory(transport)
        await eventually(lambda: transport.connected)
        write_line(test_end, b"via socat")
        await reader.wait_for(b"via socat")

        socat.terminate()
        socat.wait(timeout=TIMEOUT)
        await eventually(lambda: transport.reconnects >= 1)

        socat = start_socat()
        await eventually(lambda: test_end.exists() and transport.connected)
        await asyncio.sleep(0.1)
        write_line(test_end, b"socat again")
        await reader.wait_for(b"socat again")
    finally:
        socat.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            socat.wait(timeout=TIMEOUT)


def write_line(path: Path, data: bytes) -> None:
    """Write to the test's end of the socat pair (a tty write never blocks for long)."""
    fd = os.open(path, os.O_WRONLY | os.O_NOCTTY)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def _port(device: str, vid: int, pid: int, serial_number: str | None) -> ListPortInfo:
    info = ListPortInfo(device, skip_link_detection=True)
    info.vid, info.pid, info.serial_number = vid, pid, serial_number
    return info


async def test_usb_vid_pid_serial_selection_survives_re_enumeration(
    monkeypatch: pytest.MonkeyPatch, reader_factory: Callable[[SerialTransport], Reader]
) -> None:
    plugged: list[ListPortInfo] = []
    monkeypatch.setattr(list_ports, "comports", lambda *args, **kwargs: list(plugged))
    decoy, device = PtyDevice(), PtyDevice()
    decoy.open()
    device.open()
    try:
        assert find_usb_port(0x0403, 0x6001, "FT-ABC") is None
        transport = SerialTransport(
            SerialSettings(usb_vid=0x0403, usb_pid=0x6001, usb_serial_number="FT-ABC"),
            backoff=FAST,
        )
        reader = reader_factory(transport)
        await asyncio.sleep(0.2)
        assert not transport.connected  # nothing plugged in: it keeps looking

        # another adapter of the same model (other serial number) and ours
        assert decoy.slave_path and device.slave_path
        plugged[:] = [
            _port(decoy.slave_path, 0x0403, 0x6001, "FT-OTHER"),
            _port(device.slave_path, 0x0403, 0x6001, "FT-ABC"),
        ]
        await eventually(lambda: transport.connected)
        decoy.write(b"decoy")
        device.write(b"ours")
        await reader.wait_for(b"ours")
        assert b"decoy" not in reader.data

        # unplug; it comes back under another device name
        plugged.clear()
        device.close()
        await eventually(lambda: transport.reconnects >= 1)
        device.open()
        assert device.slave_path
        plugged[:] = [_port(device.slave_path, 0x0403, 0x6001, "FT-ABC")]
        await eventually(lambda: transport.connected)
        device.write(b"back again")
        await reader.wait_for(b"back again")
    finally:
        decoy.close()
        device.close()


async def test_close_ends_reading_promptly_while_waiting_for_data(tmp_path: Path) -> None:
    device = PtyDevice(tmp_path / "ttyDEVICE")
    device.open()
    try:
        transport = SerialTransport(SerialSettings(path=str(device.path)), backoff=FAST)
        reader = Reader(transport)
        await eventually(lambda: transport.connected)
        await transport.close()  # nothing was ever sent: the read is parked on the fd
        await asyncio.wait_for(reader.task, 2.0)
        assert not transport.connected
    finally:
        device.close()


async def test_close_ends_the_retry_loop_when_the_device_is_absent(tmp_path: Path) -> None:
    transport = SerialTransport(
        SerialSettings(path=str(tmp_path / "nothing-here")), backoff=Backoff(initial=1, maximum=5)
    )
    reader = Reader(transport)
    await asyncio.sleep(0.1)
    await transport.close()
    await asyncio.wait_for(reader.task, 2.0)
    assert reader.data == bytearray()


def test_settings_require_exactly_one_way_to_find_the_port() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        SerialSettings()
    with pytest.raises(ValueError, match="exactly one"):
        SerialSettings(path="/dev/ttyUSB0", usb_vid=1, usb_pid=2)
    with pytest.raises(ValueError, match="both vid and pid"):
        SerialSettings(usb_vid=0x0403)
    assert os.path.basename(SerialSettings(path="/dev/ttyS0").path or "") == "ttyS0"
