"""Serial backend (RS-232 / USB CDC / USB-serial adapters) on pyserial.

A port is chosen either by path (``/dev/ttyUSB0``, a pty, or any pyserial URL such
as ``socket://host:port``) or by USB identity - VID:PID plus optional serial
number - which survives re-enumeration: after the cable is pulled and replugged the
same adapter may come back as ttyUSB1, and we find it again.

Once a port has been open, losing it is a cable pulled: the transport reopens it
with backoff, forever. Whether the *first* open is retried the same way is the
owner's choice (``retry_first_open``): the DeviceProxy asks for an error instead,
so that a port that was never there is reported as a device fault with its reason
rather than as a device that merely looks disconnected.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import serial

from wardlink.transports.base import (
    Backoff,
    Chunk,
    Transport,
    TransportClosed,
    TransportError,
    sleep_backoff,
)

log = logging.getLogger(__name__)

READ_SIZE = 4096


@dataclass(frozen=True)
class SerialSettings:
    """Where the device is and how it talks. Exactly one of ``path`` or ``usb`` is set."""

    path: str | None = None
    usb_vid: int | None = None
    usb_pid: int | None = None
    usb_serial_number: str | None = None
    baudrate: int = 9600
    bytesize: int = 8
    parity: str = "N"
    stopbits: float = 1

    def __post_init__(self) -> None:
        if (self.path is None) == (self.usb_vid is None):
            raise ValueError("serial settings need exactly one of path or usb vid:pid")
        if (self.usb_vid is None) != (self.usb_pid is None):
            raise ValueError("usb selection needs both vid and pid")


def find_usb_port(vid: int, pid: int, serial_number: str | None) -> str | None:
    """The device path of the matching USB serial adapter, if one is plugged in."""
    # pyserial's port enumeration (glob, sysfs readers) is loaded only by a site that
    # selects a device by USB identity; one that gives paths never needs it
    from serial.tools import list_ports

    for port in list_ports.comports():
        if (
            port.vid == vid
            and port.pid == pid
            and (serial_number is None or port.serial_number == serial_number)
        ):
            return str(port.device)
    return None


def _resolve(settings: SerialSettings) -> str:
    if settings.path is not None:
        return settings.path
    assert settings.usb_vid is not None and settings.usb_pid is not None
    found = find_usb_port(settings.usb_vid, settings.usb_pid, settings.usb_serial_number)
    if found is None:
        raise TransportError(
            f"no USB serial device {settings.usb_vid:04x}:{settings.usb_pid:04x}"
            f" serial={settings.usb_serial_number or '*'} is plugged in"
        )
    return found


SerialOpener = Callable[[SerialSettings, str], "serial.SerialBase"]


def open_port(settings: SerialSettings, path: str) -> serial.SerialBase:
    port = serial.serial_for_url(
        path,
        baudrate=settings.baudrate,
        bytesize=settings.bytesize,
        parity=settings.parity,
        stopbits=settings.stopbits,
        timeout=0,
        do_not_open=True,
    )
    port.exclusive = True if path.startswith("/dev/") else None
    port.open()
    return port


class SerialTransport(Transport):
    """A serial device that is read continuously and reopened when it goes away."""

    def __init__(
        self,
        settings: SerialSettings,
        backoff: Backoff | None = None,
        opener: SerialOpener = open_port,
        retry_first_open: bool = True,
    ) -> None:
        self.settings = settings
        self.backoff = backoff or Backoff()
        self.retry_first_open = retry_first_open
        self._opener = opener
        self._port: serial.SerialBase | None = None
        self._closing = asyncio.Event()
        self._opened_once = False
        self.reconnects = 0

    @property
    def connected(self) -> bool:
        return self._port is not None and bool(self._port.is_open)

    async def _open(self) -> serial.SerialBase | None:
        """Open the port, retrying with backoff; None once the transport is closing.

        Raises ``TransportError`` if the very first open fails and the owner asked
        not to retry it (``retry_first_open=False``).
        """
        attempt = 0
        while not self._closing.is_set():
            try:
                path = _resolve(self.settings)
                port = await asyncio.to_thread(self._opener, self.settings, path)
                if self._closing.is_set():  # closed while the open was in flight
                    with contextlib.suppress(Exception):
                        port.close()
                    return None
                log.info("serial port open", extra={"port": path})
                self._opened_once = True
                return port
            except (OSError, serial.SerialException, TransportError) as exc:
                if not (self._opened_once or self.retry_first_open):
                    raise TransportError(f"serial port unavailable: {exc}") from exc
                log.warning("serial port unavailable, retrying", extra={"error": str(exc)})
            if not await sleep_backoff(self.backoff, attempt, self._closing):
                return None
            attempt += 1
        return None

    async def _read(self, port: serial.SerialBase) -> bytes:
        """Wait for data without a thread per read where the port has a file descriptor.

        The wait also ends when the transport is closed: a closed descriptor is
        silently dropped by epoll, so waiting on readability alone would hang.
        """
        loop = asyncio.get_running_loop()
        try:
            fd = port.fileno()
        except (AttributeError, NotImplementedError, OSError, ValueError):
            fd = None
        if fd is None:
            return await asyncio.to_thread(_blocking_read, port)
        ready: asyncio.Future[None] = loop.create_future()

        def wake() -> None:
            if not ready.done():
                ready.set_result(None)

        loop.add_reader(fd, wake)
        closing = asyncio.ensure_future(self._closing.wait())
        waiters: set[asyncio.Future[Any]] = {ready, closing}
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            closing.cancel()
            loop.remove_reader(fd)
        if self._closing.is_set():
            raise TransportClosed("serial transport closed")
        data = port.read(READ_SIZE)
        if not data:
            # Readable with nothing to read is how a closed pty or unplugged adapter looks.
            raise serial.SerialException("device went away (EOF)")
        return bytes(data)

    async def chunks(self) -> AsyncIterator[Chunk]:
        while not self._closing.is_set():
            port = await self._open()
            if port is None:
                return
            self._port = port
            try:
                while not self._closing.is_set():
                    data = await self._read(port)
                    if data:
                        yield Chunk(data)
            except TransportClosed:
                return
            except (OSError, serial.SerialException) as exc:
                if not self._closing.is_set():
                    log.warning("serial link lost, reconnecting", extra={"error": str(exc)})
                    self.reconnects += 1
            finally:
                self._drop()

    async def write(self, data: bytes, target: str = "") -> None:
        if self._port is None:
            raise TransportError("serial port is not open")
        try:
            await asyncio.to_thread(self._port.write, data)
        except (OSError, serial.SerialException) as exc:
            raise TransportError(f"serial write failed: {exc}") from exc

    def _drop(self) -> None:
        if self._port is not None:
            with contextlib.suppress(Exception):
                self._port.close()
            self._port = None

    async def close(self) -> None:
        self._closing.set()
        self._drop()


def _blocking_read(port: serial.SerialBase) -> bytes:
    port.timeout = 0.25
    return bytes(port.read(READ_SIZE))
