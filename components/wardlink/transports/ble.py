"""Bluetooth LE backend of the Transport interface, on bleak.

One ``BleTransport`` per device. It scans with ``BleakScanner(service_uuids=...)``
and only accepts an advertiser whose address is on the allow-list (fail closed:
an empty list accepts nobody unless ``allow_any_address`` is set, because a ward
is full of other people's meters). It connects, pairs/bonds when the profile says
the device requires it (``client.pair()``), reads the characteristics listed in
``read_on_connect`` (device clock, battery) and subscribes to every configured
characteristic - bleak's ``start_notify`` enables notifications or indications,
whichever the characteristic offers, and confirms indications itself.

Every value arrives as ``Chunk(data, source=<characteristic UUID>)``: values read
on connect included, so the reader sees the device clock before the stored records
it will correct. UUIDs are bleak's normalized form
(``00002a37-0000-1000-8000-00805f9b34fb``).

When the link drops the transport reconnects with backoff, forever, until
``close()``. A device out of range is normal and simply waited for; the
Bluetooth stack itself being unusable (no adapter, adapter off, no BlueZ/D-Bus,
no permission) is ``BluetoothUnavailable``. Whether that is retried in silence
before the first connection, too, is the owner's choice (``retry_first_open``):
the DeviceProxy asks for the error, and reports the device faulted with it.

``connect_hooks`` run after every (re)connect once the subscriptions are live;
the RACP sync uses that to ask for the records it has not seen.

``scan`` is the same interface used once, for a technician looking for nearby
devices: every advertiser of the given services within a few seconds, with its
address, name and services (addresses are not filtered: the technician chooses).

``backend`` passes custom bleak backend classes through to ``BleakClient`` and
``BleakScanner`` (bleak's ``backend=`` argument) - ``bleak_bumble`` provides
classes that run this exact code against Bumble-emulated peripherals.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from bleak import BleakClient, BleakScanner
from bleak.backends.client import BaseBleakClient
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.exc import BleakError

from wardlink.codecs._ble_common import normalize_uuid
from wardlink.transports.base import (
    Backoff,
    Chunk,
    Transport,
    TransportError,
    sleep_backoff,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BleakBackends:
    """Custom bleak backend classes; None means bleak's platform default."""

    client: type[BaseBleakClient] | None = None
    scanner: type[BaseBleakScanner] | None = None


@dataclass(frozen=True)
class BleSettings:
    """What to look for and what to listen to (from the device profile)."""

    service_uuids: tuple[str, ...]
    characteristics: tuple[str, ...]
    addresses: tuple[str, ...] = ()
    allow_any_address: bool = False
    pair: bool = False
    read_on_connect: tuple[str, ...] = ()
    scan_timeout: float = 10.0
    connect_timeout: float = 20.0
    queue_limit: int = 10_000

    def __post_init__(self) -> None:
        if not self.service_uuids:
            raise ValueError("BLE settings need at least one service UUID to scan for")
        if not self.addresses and not self.allow_any_address:
            raise ValueError("BLE settings need an address allow-list (or allow_any_address)")

    def accepts(self, address: str) -> bool:
        return self.allow_any_address or address.upper() in {a.upper() for a in self.addresses}


@dataclass(frozen=True)
class Advertiser:
    """A BLE device heard during ``scan``."""

    address: str
    name: str | None
    service_uuids: tuple[str, ...]
    rssi: int | None


async def scan(
    service_uuids: tuple[str, ...], seconds: float, backend: BleakBackends | None = None
) -> list[Advertiser]:
    """Every device advertising one of ``service_uuids`` within ``seconds``, by address.

    ``BluetoothUnavailable`` when the stack cannot scan (no adapter, no BlueZ).
    """
    wanted = [normalize_uuid(u) for u in service_uuids]
    found: dict[str, Advertiser] = {}

    def seen(device: BLEDevice, advertisement: AdvertisementData) -> None:
        offered = tuple(dict.fromkeys(normalize_uuid(u) for u in advertisement.service_uuids))
        found[device.address.upper()] = Advertiser(
            device.address.upper(),
            advertisement.local_name or device.name,
            tuple(u for u in offered if u in wanted) or offered,
            advertisement.rssi,
        )

    try:
        scanner = BleakScanner(
            seen, service_uuids=wanted, backend=(backend or BleakBackends()).scanner
        )
        await scanner.start()
    except (BleakError, OSError) as exc:
        reason = str(exc) or type(exc).__name__
        raise BluetoothUnavailable(f"Bluetooth unavailable: {reason}") from exc
    try:
        await asyncio.sleep(seconds)
    finally:
        await scanner.stop()
    return sorted(found.values(), key=lambda a: a.address)


ConnectHook = Callable[["BleTransport"], Coroutine[Any, Any, None]]


class BluetoothUnavailable(TransportError):
    """The gateway's Bluetooth stack cannot scan: no adapter, powered off, no BlueZ."""


@dataclass
class _Link:
    client: BleakClient
    lost: asyncio.Event = field(default_factory=asyncio.Event)


class BleTransport(Transport):
    """A BLE peripheral, found by service and address, kept connected until closed."""

    def __init__(
        self,
        settings: BleSettings,
        backoff: Backoff | None = None,
        backend: BleakBackends | None = None,
        retry_first_open: bool = True,
    ) -> None:
        self.settings = settings
        self.backoff = backoff or Backoff()
        self.backend = backend or BleakBackends()
        self.retry_first_open = retry_first_open
        self._failure: TransportError | None = None  # ends reading: unavailable at start
        self._connected_once = False
        self.connect_hooks: list[ConnectHook] = []
        self.reconnects = 0
        self.dropped = 0
        self._queue: asyncio.Queue[Chunk] = asyncio.Queue()
        self._closing = asyncio.Event()
        self._link: _Link | None = None
        self._runner: asyncio.Task[None] | None = None
        self._hook_tasks: set[asyncio.Task[None]] = set()
        self._connected = asyncio.Event()

    @property
    def connected(self) -> bool:
        return self._link is not None and self._link.client.is_connected

    @property
    def address(self) -> str | None:
        return self._link.client.address if self._link is not None else None

    async def wait_connected(self) -> None:
        """Wait until the link is up and subscribed (wrap in a timeout)."""
        await self._connected.wait()

    def start(self) -> None:
        """Start connecting in the background (``chunks()`` does this too)."""
        if self._runner is None:
            self._runner = asyncio.create_task(self._run(), name="ble-transport")

    def chunks(self) -> AsyncIterator[Chunk]:
        """Values as they arrive; connecting starts right away, not at the first read."""
        self.start()
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[Chunk]:
        closing = asyncio.ensure_future(self._closing.wait())
        try:
            while True:
                getter = asyncio.ensure_future(self._queue.get())
                done, _ = await asyncio.wait({getter, closing}, return_when=asyncio.FIRST_COMPLETED)
                if getter in done:
                    yield getter.result()
                    continue
                getter.cancel()
                while not self._queue.empty():  # hand over what arrived before close
                    yield self._queue.get_nowait()
                if self._failure is not None:
                    raise self._failure
                return
        finally:
            closing.cancel()

    async def write(self, data: bytes, target: str = "") -> None:
        """Write with response to the characteristic ``target`` (e.g. the RACP)."""
        link = self._link
        if link is None or not link.client.is_connected:
            raise TransportError("BLE device is not connected")
        if not target:
            raise TransportError("BLE writes need a target characteristic")
        try:
            await link.client.write_gatt_char(normalize_uuid(target), data, response=True)
        except (BleakError, TimeoutError, OSError) as exc:
            raise TransportError(f"BLE write to {target} failed: {exc}") from exc

    async def close(self) -> None:
        self._closing.set()
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner
        for task in list(self._hook_tasks):
            task.cancel()
        await self._drop()

    # -- the connection loop -----------------------------------------------------

    async def _run(self) -> None:
        attempt = 0
        while not self._closing.is_set():
            try:
                link = await self._connect()
            except BluetoothUnavailable as exc:
                if not (self._connected_once or self.retry_first_open):
                    self._failure = exc
                    self._closing.set()  # the reader drains, then raises the failure
                    break
                log.warning("BLE connect failed, retrying: %s", exc)
            except (BleakError, TimeoutError, OSError, TransportError) as exc:
                log.warning("BLE connect failed, retrying: %s", exc)
            else:
                attempt = 0
                await self._hold(link)
                if self._closing.is_set():
                    break
                self.reconnects += 1
                log.warning("BLE link lost, reconnecting")
            if not await sleep_backoff(self.backoff, attempt, self._closing):
                break
            attempt += 1

    async def _find(self) -> BLEDevice:
        found: asyncio.Future[BLEDevice] = asyncio.get_running_loop().create_future()

        def seen(device: BLEDevice, advertisement: AdvertisementData) -> None:
            if self.settings.accepts(device.address) and not found.done():
                found.set_result(device)

        try:
            scanner = BleakScanner(
                seen,
                service_uuids=[normalize_uuid(u) for u in self.settings.service_uuids],
                backend=self.backend.scanner,
            )
            await scanner.start()
        except (BleakError, OSError) as exc:  # scanning is the stack's job, not the device's
            reason = str(exc) or type(exc).__name__
            raise BluetoothUnavailable(f"Bluetooth unavailable: {reason}") from exc
        try:
            return await asyncio.wait_for(found, self.settings.scan_timeout)
        except TimeoutError:
            raise TransportError("no allowed BLE device advertising the service") from None
        finally:
            await scanner.stop()

    async def _connect(self) -> _Link:
        device = await self._find()
        lost = asyncio.Event()
        client = BleakClient(
            device,
            disconnected_callback=lambda _client: lost.set(),
            timeout=self.settings.connect_timeout,
            backend=self.backend.client,
        )
        link = _Link(client, lost)
        self._link = link
        try:
            await asyncio.wait_for(client.connect(), self.settings.connect_timeout)
            if self.settings.pair:
                await client.pair()
            for uuid in self.settings.read_on_connect:
                await self._read(client, normalize_uuid(uuid))
            for uuid in self.settings.characteristics:
                source = normalize_uuid(uuid)
                await client.start_notify(source, self._receiver(source))
        except BaseException:
            await self._drop()
            raise
        log.info("BLE device %s connected", device.address)
        self._connected_once = True
        self._connected.set()
        for hook in self.connect_hooks:
            task = asyncio.create_task(hook(self))
            self._hook_tasks.add(task)
            task.add_done_callback(self._hook_done)
        return link

    def _hook_done(self, task: asyncio.Task[None]) -> None:
        self._hook_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("BLE connect hook failed: %s", task.exception())

    async def _read(self, client: BleakClient, uuid: str) -> None:
        if client.services.get_characteristic(uuid) is None:
            return  # optional characteristic (device clock, battery) not offered
        try:
            value = await client.read_gatt_char(uuid)
        except BleakError as exc:
            log.info("BLE read of %s failed: %s", uuid, exc)
            return
        self._put(Chunk(bytes(value), source=uuid))

    def _receiver(self, source: str) -> Callable[[object, bytearray], None]:
        def receive(_characteristic: object, data: bytearray) -> None:
            self._put(Chunk(bytes(data), source=source))

        return receive

    def _put(self, chunk: Chunk) -> None:
        if self._queue.qsize() >= self.settings.queue_limit:
            self.dropped += 1  # the reader stalled; keep memory bounded
            log.error("BLE queue full, value from %s dropped", chunk.source)
            return
        self._queue.put_nowait(chunk)

    async def _hold(self, link: _Link) -> None:
        closing = asyncio.ensure_future(self._closing.wait())
        lost = asyncio.ensure_future(link.lost.wait())
        try:
            await asyncio.wait({closing, lost}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            closing.cancel()
            lost.cancel()
            self._connected.clear()
            await self._drop()

    async def _drop(self) -> None:
        link, self._link = self._link, None
        self._connected.clear()
        if link is not None:
            with contextlib.suppress(BleakError, TimeoutError, OSError):
                await link.client.disconnect()
