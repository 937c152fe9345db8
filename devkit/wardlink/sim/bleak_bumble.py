"""A bleak backend that drives a Bumble host, so bleak code runs against Bumble peripherals.

bleak (>= 0.18; 3.1 here) lets ``BleakClient(..., backend=cls)`` and
``BleakScanner(..., backend=cls)`` take any ``BaseBleakClient``/``BaseBleakScanner``
subclass. This module provides both, on top of a Bumble ``Device`` acting as the
central. The Bumble device talks HCI to a controller, which may be

* a virtual ``bumble.controller.Controller`` on an in-process ``bumble.link.LocalLink``
  shared with simulated peripherals (``BumbleCentral.on_link``) - tests, the demo;
* any Bumble transport (``BumbleCentral.open("tcp-client:127.0.0.1:9000")``,
  ``"usb:0"``, ``"serial:/dev/ttyACM0"``) - a controller in another process or a
  real dongle, which is how ``wardlink sim`` peripherals are reached standalone.

The gateway's BLE transport (``transports/ble.py``) is unaware of any of this: it
is plain bleak, and gets ``central.bleak_backends()`` as its ``backend`` argument.

What is covered: scanning (advertised service UUIDs, local name, manufacturer and
service data), connect by ``BLEDevice`` or address, MTU exchange, full GATT
discovery, read/write of characteristics and descriptors, notifications and
indications (CCCD written by Bumble's GATT client; indications are confirmed),
unsolicited-disconnect callback, and pairing/bonding through Bumble's SMP
(``BleakClient.pair()``, or ``pair=True``), with keys kept in a memory key store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any, ClassVar

from bleak.args import SizedBuffer
from bleak.assigned_numbers import gatt_char_props_to_strs
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDeviceNotFoundError, BleakError, BleakGATTProtocolError
from bleak.uuids import normalize_uuid_str
from bumble import att, core, gatt_client
from bumble.controller import Controller
from bumble.core import AdvertisingData, BaseBumbleError, PhysicalTransport
from bumble.device import Advertisement, Connection, Device, Peer
from bumble.hci import Address
from bumble.host import Host
from bumble.keys import MemoryKeyStore
from bumble.link import LocalLink
from bumble.transport import open_transport
from bumble.transport.common import AsyncPipeSink, Transport

from wardlink.transports.ble import BleakBackends

log = logging.getLogger(__name__)

DEFAULT_CENTRAL_ADDRESS = "F0:57:A7:E0:00:01"
PREFERRED_MTU = 247


def uuid_text(uuid: core.UUID) -> str:
    """Bumble UUID -> bleak's normalized 128-bit lower-case string."""
    return normalize_uuid_str(uuid.to_hex_str("-"))


def address_text(address: Address) -> str:
    return address.to_string(with_type_qualifier=False)


class BumbleCentral:
    """One Bumble host used as the central by any number of bleak clients and scanners."""

    def __init__(self, device: Device, transport: Transport | None = None) -> None:
        self.device = device
        self._transport = transport
        self._started = False
        self._start_lock = asyncio.Lock()
        self._scanners = 0
        self._scan_lock = asyncio.Lock()
        # A controller has at most one LE Create Connection pending (HCI disallows a
        # second one); BlueZ queues connects for the same reason.
        self.connect_lock = asyncio.Lock()
        self._listeners: list[Callable[[Advertisement], None]] = []
        device.keystore = MemoryKeyStore()
        device.on(Device.EVENT_ADVERTISEMENT, self._on_advertisement)

    @classmethod
    def on_link(cls, link: LocalLink, address: str = DEFAULT_CENTRAL_ADDRESS) -> BumbleCentral:
        """A central on a virtual controller attached to ``link`` (all in-process)."""
        controller = Controller("wardlink-central", link=link, public_address=address)
        host = Host(controller, AsyncPipeSink(controller))
        return cls(Device(name="wardlink", address=Address(address), host=host))

    @classmethod
    async def open(cls, hci_spec: str, address: str = DEFAULT_CENTRAL_ADDRESS) -> BumbleCentral:
        """A central on whatever controller a Bumble transport spec names."""
        transport = await open_transport(hci_spec)
        device = Device.with_hci("wardlink", Address(address), transport.source, transport.sink)
        return cls(device, transport)

    def bleak_backends(self) -> BleakBackends:
        """Client and scanner backend classes bound to this central."""
        central = self

        class Client(BumbleBleakClient):
            pass

        class Scanner(BumbleBleakScanner):
            pass

        Client.central = central
        Scanner.central = central
        return BleakBackends(client=Client, scanner=Scanner)

    async def start(self) -> None:
        async with self._start_lock:
            if not self._started:
                await self.device.power_on()
                self._started = True

    async def close(self) -> None:
        for connection in list(self.device.connections.values()):
            with contextlib.suppress(BaseBumbleError, asyncio.TimeoutError):
                await connection.disconnect()
        if self._started:
            with contextlib.suppress(BaseBumbleError):
                await self.device.power_off()
        if self._transport is not None:
            await self._transport.close()

    # -- scanning, shared by every scanner ----------------------------------------

    def add_listener(self, listener: Callable[[Advertisement], None]) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[Advertisement], None]) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    async def acquire_scan(self, active: bool = True) -> None:
        await self.start()
        async with self._scan_lock:
            self._scanners += 1
            if self._scanners == 1:
                await self.device.start_scanning(active=active, filter_duplicates=False)

    async def release_scan(self) -> None:
        async with self._scan_lock:
            self._scanners = max(0, self._scanners - 1)
            if self._scanners == 0 and self.device.is_scanning:
                await self.device.stop_scanning()

    def _on_advertisement(self, advertisement: Advertisement) -> None:
        for listener in list(self._listeners):
            listener(advertisement)

    async def resolve(self, address: str, patience: float) -> Address:
        """Find the typed address of a peripheral known only by its address text."""
        wanted = address.upper()
        found: asyncio.Future[Address] = asyncio.get_running_loop().create_future()

        def listener(advertisement: Advertisement) -> None:
            if address_text(advertisement.address).upper() == wanted and not found.done():
                found.set_result(advertisement.address)

        self.add_listener(listener)
        await self.acquire_scan()
        try:
            return await asyncio.wait_for(found, patience)
        except TimeoutError:
            raise BleakDeviceNotFoundError(address, f"no advertisement from {address}") from None
        finally:
            self.remove_listener(listener)
            await self.release_scan()


def _advertisement_data(advertisement: Advertisement) -> AdvertisementData:
    data: AdvertisingData = advertisement.data
    uuids: list[str] = []
    for kind in (
        AdvertisingData.Type.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
        AdvertisingData.Type.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
        AdvertisingData.Type.COMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS,
        AdvertisingData.Type.INCOMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS,
        AdvertisingData.Type.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
        AdvertisingData.Type.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
    ):
        for group in data.get_all(kind):
            uuids.extend(uuid_text(u) for u in group)
    service_data: dict[str, bytes] = {}
    for uuid, payload in (
        data.get_all(AdvertisingData.Type.SERVICE_DATA_16_BIT_UUID)
        + data.get_all(AdvertisingData.Type.SERVICE_DATA_32_BIT_UUID)
        + data.get_all(AdvertisingData.Type.SERVICE_DATA_128_BIT_UUID)
    ):
        service_data[uuid_text(uuid)] = bytes(payload)
    names = data.get_all(AdvertisingData.Type.COMPLETE_LOCAL_NAME) or data.get_all(
        AdvertisingData.Type.SHORTENED_LOCAL_NAME
    )
    tx_power = data.get_all(AdvertisingData.Type.TX_POWER_LEVEL)
    manufacturer = {
        company: bytes(payload)
        for company, payload in data.get_all(AdvertisingData.Type.MANUFACTURER_SPECIFIC_DATA)
    }
    return AdvertisementData(
        local_name=names[0] if names else None,
        manufacturer_data=manufacturer,
        service_data=service_data,
        service_uuids=uuids,
        tx_power=tx_power[0] if tx_power else None,
        rssi=advertisement.rssi,
        platform_data=(advertisement,),
    )


class BumbleBleakScanner(BaseBleakScanner):
    """``BleakScanner(backend=...)`` over a Bumble central."""

    central: ClassVar[BumbleCentral | None] = None

    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: str = "active",
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self._active = scanning_mode != "passive"
        self._scanning = False

    def _central(self) -> BumbleCentral:
        if self.central is None:
            raise BleakError("no Bumble central bound; use BumbleCentral.bleak_backends()")
        return self.central

    async def start(self) -> None:
        central = self._central()
        self.seen_devices = {}
        central.add_listener(self._on_advertisement)
        await central.acquire_scan(self._active)
        self._scanning = True

    async def stop(self) -> None:
        if not self._scanning:
            return
        central = self._central()
        central.remove_listener(self._on_advertisement)
        self._scanning = False
        await central.release_scan()

    def _on_advertisement(self, advertisement: Advertisement) -> None:
        adv = _advertisement_data(advertisement)
        if not self.is_allowed_uuid(adv.service_uuids):
            return
        address = advertisement.address
        device = self.create_or_update_device(
            str(address), address_text(address), adv.local_name, address, adv
        )
        self.call_detection_callbacks(device, adv)


def _gatt_error(exc: Exception) -> BleakError:
    if isinstance(exc, att.ATT_Error):
        return BleakGATTProtocolError(int(exc.error_code))
    return BleakError(str(exc))


class BumbleBleakClient(BaseBleakClient):
    """``BleakClient(backend=...)`` over a Bumble central."""

    central: ClassVar[BumbleCentral | None] = None

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        disconnected_callback: Callable[[], None] | None,
        timeout: float,
        services: set[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout
        )
        details = (
            address_or_ble_device.details if isinstance(address_or_ble_device, BLEDevice) else None
        )
        self._target: Address | None = details if isinstance(details, Address) else None
        self._connection: Connection | None = None
        self._peer: Peer | None = None
        self._closing = False
        self._subscriptions: dict[int, Callable[[bytes], None]] = {}

    def _central(self) -> BumbleCentral:
        if self.central is None:
            raise BleakError("no Bumble central bound; use BumbleCentral.bleak_backends()")
        return self.central

    def _require(self) -> Peer:
        if self._peer is None or self._connection is None:
            raise BleakError("Not connected")
        return self._peer

    @property
    def name(self) -> str:
        return self.address

    @property
    def mtu_size(self) -> int:
        if self._connection is None:
            return att.ATT_DEFAULT_MTU
        return int(self._connection.att_mtu)

    @property
    def is_connected(self) -> bool:
        return self._connection is not None

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        central = self._central()
        await central.start()
        target = self._target or await central.resolve(self.address, self._timeout)
        try:
            async with central.connect_lock:
                connection = await central.device.connect(
                    target, transport=PhysicalTransport.LE, timeout=self._timeout
                )
        except (BaseBumbleError, TimeoutError) as exc:
            raise BleakError(f"connect to {self.address} failed: {exc}") from exc
        self._connection = connection
        self._closing = False
        connection.on(Connection.EVENT_DISCONNECTION, self._on_disconnection)
        peer = Peer(connection)
        self._peer = peer
        try:
            await peer.request_mtu(PREFERRED_MTU)
            self.services = await self._discover(peer)
            if pair:
                await self.pair()
        except (BaseBumbleError, TimeoutError) as exc:
            await self.disconnect()
            raise BleakError(f"GATT setup with {self.address} failed: {exc}") from exc

    async def _discover(self, peer: Peer) -> BleakGATTServiceCollection:
        collection = BleakGATTServiceCollection()
        for service in await peer.discover_services():
            bleak_service = BleakGATTService(service, service.handle, uuid_text(service.uuid))
            collection.add_service(bleak_service)
            for characteristic in await service.discover_characteristics():
                await characteristic.discover_descriptors()
                bleak_char = BleakGATTCharacteristic(
                    characteristic,
                    characteristic.handle,
                    uuid_text(characteristic.uuid),
                    list(gatt_char_props_to_strs(int(characteristic.properties))),
                    lambda: self.mtu_size - 3,
                    bleak_service,
                )
                collection.add_characteristic(bleak_char)
                for descriptor in characteristic.descriptors:
                    collection.add_descriptor(
                        BleakGATTDescriptor(
                            descriptor, descriptor.handle, uuid_text(descriptor.type), bleak_char
                        )
                    )
        return collection

    def _on_disconnection(self, reason: int) -> None:
        solicited = self._closing
        self._connection = None
        self._peer = None
        self._subscriptions.clear()
        log.debug("bumble link to %s down (reason %s)", self.address, reason)
        if not solicited and self._disconnected_callback is not None:
            self._disconnected_callback()

    async def disconnect(self) -> None:
        connection = self._connection
        if connection is None:
            return
        self._closing = True
        gone: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def on_gone(*_: object) -> None:
            if not gone.done():
                gone.set_result(None)

        connection.once(Connection.EVENT_DISCONNECTION, on_gone)
        try:
            await connection.disconnect()
            await asyncio.wait_for(gone, self._timeout)
        except (BaseBumbleError, TimeoutError) as exc:
            log.debug("disconnect from %s: %s", self.address, exc)
        finally:
            self._connection = None
            self._peer = None

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        """Pair (and bond: keys go to the central's key store) through Bumble's SMP."""
        self._require()
        assert self._connection is not None
        if self._connection.is_encrypted:
            return
        try:
            await self._connection.pair()
        except (BaseBumbleError, TimeoutError) as exc:
            raise BleakError(f"pairing with {self.address} failed: {exc}") from exc

    async def unpair(self) -> None:
        keystore = self._central().device.keystore
        if keystore is not None and self._connection is not None:
            await keystore.delete(str(self._connection.peer_address))
        await self.disconnect()

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        peer = self._require()
        try:
            return bytearray(await peer.read_value(characteristic.obj))
        except (BaseBumbleError, TimeoutError) as exc:
            raise _gatt_error(exc) from exc

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        peer = self._require()
        try:
            return bytearray(await peer.read_value(descriptor.obj))
        except (BaseBumbleError, TimeoutError) as exc:
            raise _gatt_error(exc) from exc

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: SizedBuffer, response: bool
    ) -> None:
        peer = self._require()
        try:
            await peer.write_value(characteristic.obj, bytes(data), with_response=response)
        except (BaseBumbleError, TimeoutError) as exc:
            raise _gatt_error(exc) from exc

    async def write_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, data: SizedBuffer
    ) -> None:
        peer = self._require()
        try:
            await peer.write_value(descriptor.obj, bytes(data), with_response=True)
        except (BaseBumbleError, TimeoutError) as exc:
            raise _gatt_error(exc) from exc

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        """Write the CCCD: notifications when supported, else indications (as bleak does)."""
        peer = self._require()
        proxy: gatt_client.CharacteristicProxy[bytes] = characteristic.obj

        def deliver(value: bytes) -> None:
            callback(bytearray(value))

        try:
            await peer.subscribe(proxy, deliver, prefer_notify=True)
        except (BaseBumbleError, TimeoutError) as exc:
            raise _gatt_error(exc) from exc
        self._subscriptions[characteristic.handle] = deliver

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        peer = self._require()
        deliver = self._subscriptions.pop(characteristic.handle, None)
        try:
            await peer.unsubscribe(characteristic.obj, deliver)
        except (BaseBumbleError, TimeoutError) as exc:
            raise _gatt_error(exc) from exc


def make_peripheral_device(
    link: LocalLink, address: str, name: str
) -> Device:
    """A Bumble device on its own virtual controller on ``link`` (used by simulators)."""
    controller = Controller(name, link=link, public_address=address)
    host = Host(controller, AsyncPipeSink(controller))
    device = Device(name=name, address=Address(address), host=host)
    device.keystore = MemoryKeyStore()
    return device
