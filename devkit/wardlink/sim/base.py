"""Shared machinery of the simulators: pacing, fault injection and the pty device end.

A ``Simulator`` produces one message per tick at ``rate_hz`` until stopped. Faults
are injected between ticks, cheaply, so the gateway's recovery paths can be
exercised by the same simulators the demo uses:

* ``go_silent(seconds)`` - the device stays connected but sends nothing (the
  gateway must report it silent/disconnected within twice its expected interval);
* ``inject_garbage(data)`` - line noise before the next message (the codec must
  resynchronise);
* ``request_disconnect()`` - the link drops and comes back (pty closed and
  recreated behind the same symlink, TCP connection closed), like an unplugged
  cable.

The same faults can be scheduled from the command line with ``--set``:
``garbage_every=N`` (messages), ``disconnect_every=N`` (messages),
``silence_after=S`` and ``silence_for=S`` (seconds).

``PtyDevice`` is the device end of a serial line: the simulator owns the pty
master, the gateway opens the slave through a stable symlink.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import random
import time
import tty
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from wardlink.sim.patients import SimulatedPatient, make_patient
from wardlink.sim.registry import FAULT_SETTINGS, SimOptions

log = logging.getLogger(__name__)


class Faults:
    """Pending fault injections, consumed by the simulator's run loop."""

    def __init__(self) -> None:
        self.silent_until = 0.0
        self.garbage: deque[bytes] = deque()
        self.disconnect_requested = False

    def go_silent(self, seconds: float) -> None:
        self.silent_until = max(self.silent_until, time.monotonic() + seconds)

    @property
    def silent(self) -> bool:
        return time.monotonic() < self.silent_until

    def inject_garbage(self, data: bytes) -> None:
        self.garbage.append(data)

    def request_disconnect(self) -> None:
        self.disconnect_requested = True


class Simulator(ABC):
    """A simulated device: one message per tick, a simulated patient, faults."""

    name: ClassVar[str]
    description: ClassVar[str]
    default_rate_hz: ClassVar[float] = 1.0
    #: ``--set`` keys this simulator reads (key -> help); subclasses extend it.
    settings_help: ClassVar[Mapping[str, str]] = FAULT_SETTINGS

    def __init__(self, options: SimOptions) -> None:
        self.options = options
        self.rng = random.Random(f"{type(self).__name__}-{options.seed}")
        self.patient: SimulatedPatient = make_patient(options.seed)
        self.faults = Faults()
        self.sent = 0  # messages handed to the link
        self.delivered = 0  # messages the receiver acknowledged, where the protocol says
        self._started_at = time.monotonic()
        self._silence_scheduled = False

    # -- to implement -------------------------------------------------------------------

    @abstractmethod
    async def start(self) -> str:
        """Open the device end; return where the gateway reaches it."""

    @abstractmethod
    async def send_one(self) -> None:
        """Produce and send one message (including any protocol handshake)."""

    @abstractmethod
    async def write_raw(self, data: bytes) -> None:
        """Put bytes on the link as they are (used for garbage)."""

    @abstractmethod
    async def disconnect(self) -> None:
        """Drop the link and bring it back, as an unplugged and replugged cable."""

    @abstractmethod
    async def close(self) -> None:
        """Release everything ``start`` opened."""

    # -- shared -------------------------------------------------------------------------

    @property
    def rate_hz(self) -> float:
        rate = self.options.rate_hz or self.default_rate_hz
        return max(rate, 0.001)

    def setting(self, key: str, default: float) -> float:
        raw = self.options.settings.get(key)
        if raw is None:
            return default
        try:
            return float(raw)
        except ValueError:
            raise ValueError(f"setting {key}={raw!r} is not a number") from None

    def phi_canaries(self) -> tuple[str, ...]:
        return self.patient.canaries()

    def _scheduled_faults(self) -> None:
        garbage_every = int(self.setting("garbage_every", 0))
        if garbage_every and self.sent and self.sent % garbage_every == 0:
            self.faults.inject_garbage(self.rng.randbytes(self.rng.randint(1, 64)))
        disconnect_every = int(self.setting("disconnect_every", 0))
        if disconnect_every and self.sent and self.sent % disconnect_every == 0:
            self.faults.request_disconnect()
        silence_after = self.setting("silence_after", 0)
        due = time.monotonic() - self._started_at >= silence_after
        if silence_after and due and not self._silence_scheduled:
            self._silence_scheduled = True
            self.faults.go_silent(self.setting("silence_for", 3600))

    async def run(self, stop: asyncio.Event) -> None:
        """Send at ``rate_hz`` until ``stop`` is set; a send error never ends the run."""
        period = 1.0 / self.rate_hz
        next_tick = time.monotonic()
        while not stop.is_set():
            self._scheduled_faults()
            try:
                if self.faults.disconnect_requested:
                    self.faults.disconnect_requested = False
                    await self.disconnect()
                while self.faults.garbage:
                    await self.write_raw(self.faults.garbage.popleft())
                if not self.faults.silent:
                    await self.send_one()
                    self.sent += 1
            except (OSError, ConnectionError, TimeoutError) as exc:
                log.info("%s: send failed (%s); retrying next tick", self.name, exc)
            next_tick = max(next_tick + period, time.monotonic())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=next_tick - time.monotonic())


class PtyDevice:
    """The device end of a serial line, as a pseudo-terminal.

    The simulator writes to and reads from the master; the gateway opens the slave,
    preferably through ``link``, a symlink the simulator re-points when the pty is
    recreated (a pty's name cannot be chosen or reused). The simulator keeps its own
    handle on the slave so the line stays up whether or not the gateway has it open;
    writes that find no reader are dropped, as a UART would drop them.
    """

    def __init__(self, link: Path | None = None) -> None:
        self.link = link
        self.slave_path: str | None = None
        self._master: int | None = None
        self._slave: int | None = None
        self._inbox = bytearray()

    @property
    def path(self) -> str:
        """What the gateway should open: the link if there is one."""
        if self.link is not None:
            return str(self.link)
        if self.slave_path is None:
            raise RuntimeError("pty is not open")
        return self.slave_path

    def open(self) -> str:
        master, slave = os.openpty()
        tty.setraw(slave)  # no echo, no line discipline: bytes pass unchanged
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        self.slave_path = os.ttyname(slave)
        if self.link is not None:
            self.link.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.link.with_name(f".{self.link.name}.{os.getpid()}.tmp")
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
            temporary.symlink_to(self.slave_path)
            os.replace(temporary, self.link)  # atomic re-point
        self._inbox.clear()
        return self.path

    def close(self, remove_link: bool = True) -> None:
        for fd in (self._master, self._slave):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = None
        if remove_link and self.link is not None and self.link.is_symlink():
            with contextlib.suppress(FileNotFoundError):
                self.link.unlink()

    async def reopen(self, gap_s: float = 0.2) -> str:
        """Unplug: close the pty, wait, then create a new one behind the same link."""
        self.close(remove_link=True)
        await asyncio.sleep(gap_s)
        return self.open()

    def write(self, data: bytes) -> int:
        """Write what the line takes now; the rest is dropped (nobody listening)."""
        if self._master is None:
            raise OSError(errno.EBADF, "pty is closed")
        written = 0
        view = memoryview(data)
        while written < len(data):
            try:
                written += os.write(self._master, view[written:])
            except BlockingIOError:
                break
        return written

    async def read(self, timeout: float) -> bytes:
        """Bytes the gateway wrote, waiting up to ``timeout``; b"" if none came."""
        if self._inbox:
            data = bytes(self._inbox)
            self._inbox.clear()
            return data
        if self._master is None:
            raise OSError(errno.EBADF, "pty is closed")
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        fd = self._master

        def wake() -> None:
            if not ready.done():
                ready.set_result(None)

        loop.add_reader(fd, wake)
        try:
            await asyncio.wait_for(ready, timeout)
        except TimeoutError:
            return b""
        finally:
            loop.remove_reader(fd)
        try:
            return os.read(fd, 4096)
        except BlockingIOError:
            return b""

    async def read_byte(self, wanted: frozenset[int], timeout: float) -> int | None:
        """The next byte from ``wanted`` within ``timeout``; other bytes are skipped."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            data = await self.read(remaining)
            for index, byte in enumerate(data):
                if byte in wanted:
                    self._inbox += data[index + 1 :]
                    return byte
