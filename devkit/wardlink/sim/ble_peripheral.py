"""Common ground of the Bumble health peripherals: a GATT server that advertises.

Each profile simulator (``ble_glucose``, ``ble_blood_pressure``, ...) subclasses
``BlePeripheralSim`` and adds its own service. Every simulator also offers
Device Information (0x180A), Battery (0x180F, Battery Level 0x2A19 read/notify)
and, where the profile uses a device clock, Current Time (0x1805, 0x2A2B read),
whose value comes from a deliberately skewed simulated device clock so that
clock-offset correction has something to correct.

Data is canary-free: Bluetooth health profiles carry no patient names; the only
person-related field is a small user index, which the codecs route to the
patient context.

Where the controller lives:

* in-process: ``Sim.on_link(link, address)`` puts the peripheral on a virtual
  controller on a shared ``bumble.link.LocalLink``; the gateway side reaches it
  through ``transports.bleak_bumble.BumbleCentral.on_link(link)``. Tests and the
  demo do this.
* standalone (``wardlink sim ble-glucose``): ``BleSimulatorAdapter`` creates a
  LocalLink with the peripheral and one extra virtual controller exposed as HCI
  over TCP; a gateway in another process connects with
  ``BumbleCentral.open("tcp-client:127.0.0.1:PORT")``. ``--set hci=usb:0`` instead
  runs the peripheral on a real Bluetooth dongle, ``--set link=NAME`` on an
  in-process link shared with a gateway in the same process (the demo).

Fault injection: ``disconnect_all()`` drops every connection (the peripheral keeps
advertising, like a meter that walked out of range and back).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar

from bumble import gatt
from bumble.controller import Controller
from bumble.core import UUID, AdvertisingData, BaseBumbleError
from bumble.device import Connection, Device
from bumble.hci import Address
from bumble.link import LocalLink
from bumble.transport import open_transport
from bumble.transport.common import Transport
from bumble.transport.tcp_server import open_tcp_server_transport_with_socket

from wardlink.codecs._ble_common import encode_current_time
from wardlink.sim.bleak_bumble import make_peripheral_device
from wardlink.sim.registry import SimOptions

log = logging.getLogger(__name__)

READ = gatt.Characteristic.Properties.READ
WRITE = gatt.Characteristic.Properties.WRITE
NOTIFY = gatt.Characteristic.Properties.NOTIFY
INDICATE = gatt.Characteristic.Properties.INDICATE
READABLE = gatt.Characteristic.Permissions.READABLE
WRITEABLE = gatt.Characteristic.Permissions.WRITEABLE
READ_ENCRYPTED = gatt.Characteristic.Permissions.READ_REQUIRES_ENCRYPTION
WRITE_ENCRYPTED = gatt.Characteristic.Permissions.WRITE_REQUIRES_ENCRYPTION
NO_ACCESS = gatt.Characteristic.Permissions(0)

def uuid(short: int) -> UUID:
    return UUID.from_16_bits(short)


def characteristic(
    short: int,
    properties: gatt.Characteristic.Properties,
    permissions: gatt.Characteristic.Permissions = NO_ACCESS,
    value: Any = b"",
) -> gatt.Characteristic[Any]:
    return gatt.Characteristic(uuid(short), properties, permissions, value)


class BlePeripheralSim:
    """One simulated BLE health device (GATT server + advertiser)."""

    sim_name: ClassVar[str]
    service_uuid: ClassVar[int]
    model: ClassVar[str]
    has_clock: ClassVar[bool] = True

    def __init__(
        self,
        device: Device,
        *,
        battery_percent: int = 87,
        clock_skew: timedelta = timedelta(minutes=-7, seconds=-30),
    ) -> None:
        self.device = device
        self.battery_percent = battery_percent
        self.clock_skew = clock_skew
        self.connections = 0
        self._started = False
        self._stopping = False
        self._battery = characteristic(0x2A19, READ | NOTIFY, READABLE, bytes([battery_percent]))
        device.on(Device.EVENT_CONNECTION, self._on_connection)

    @classmethod
    def on_link(cls, link: LocalLink, address: str, **options: Any) -> BlePeripheralSim:
        return cls(make_peripheral_device(link, address, cls.model), **options)

    # -- what subclasses provide ---------------------------------------------------

    def profile_services(self) -> list[gatt.Service]:
        raise NotImplementedError

    async def produce(self) -> None:
        """One periodic reading for standalone runs; subclasses send something."""

    # -- the device clock ----------------------------------------------------------

    def device_now(self) -> datetime:
        """The simulated device clock: local, naive, and a little wrong."""
        return datetime.now() + self.clock_skew

    def _read_current_time(self, _connection: Connection) -> bytes:
        return encode_current_time(self.device_now())

    # -- lifecycle -----------------------------------------------------------------

    def _services(self) -> list[gatt.Service]:
        services = self.profile_services()
        services.append(
            gatt.Service(
                uuid(0x180A),
                [
                    characteristic(0x2A29, READ, READABLE, b"Wardlink Simulated Devices"),
                    characteristic(0x2A24, READ, READABLE, self.model.encode()),
                    characteristic(0x2A26, READ, READABLE, b"1.0.0"),
                ],
            )
        )
        services.append(gatt.Service(uuid(0x180F), [self._battery]))
        if self.has_clock:
            services.append(
                gatt.Service(
                    uuid(0x1805),
                    [
                        characteristic(
                            0x2A2B, READ, READABLE,
                            gatt.CharacteristicValue(read=self._read_current_time),
                        )
                    ],
                )
            )
        return services

    def advertising_data(self) -> bytes:
        return bytes(
            AdvertisingData(
                [
                    (AdvertisingData.FLAGS, bytes([0x06])),  # LE general discoverable, no BR/EDR
                    (
                        AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
                        bytes(uuid(self.service_uuid)),
                    ),
                    (AdvertisingData.COMPLETE_LOCAL_NAME, self.model.encode()),
                ]
            )
        )

    async def start(self) -> None:
        if self._started:
            return
        self.device.add_services(self._services())
        await self.device.power_on()
        await self.device.start_advertising(
            auto_restart=True,
            advertising_data=self.advertising_data(),
            advertising_interval_min=20.0,
            advertising_interval_max=20.0,
        )
        self._started = True

    async def stop(self) -> None:
        self._stopping = True
        await self.disconnect_all()
        with contextlib.suppress(BaseBumbleError):
            await self.device.stop_advertising()
            await self.device.power_off()

    def _on_connection(self, connection: Connection) -> None:
        self.connections += 1
        log.info("%s: connection from %s", self.sim_name, connection.peer_address)

    @property
    def is_connected(self) -> bool:
        return bool(self.device.connections)

    async def disconnect_all(self) -> None:
        """Fault injection: drop every link (advertising resumes by itself)."""
        for connection in list(self.device.connections.values()):
            with contextlib.suppress(BaseBumbleError, asyncio.TimeoutError):
                await connection.disconnect()

    # -- sending -------------------------------------------------------------------

    async def notify(self, char: gatt.Characteristic[Any], value: bytes) -> None:
        await self.device.notify_subscribers(char, value)

    async def indicate(self, char: gatt.Characteristic[Any], value: bytes) -> None:
        """Indicate and wait for every subscriber's confirmation."""
        await self.device.indicate_subscribers(char, value)

    async def wait_subscribed(self, char: gatt.Characteristic[Any]) -> None:
        """Until some connection has enabled notifications or indications on ``char``."""
        ready = asyncio.Event()

        def on_subscription(_bearer: object, notify: bool, indicate: bool) -> None:
            if notify or indicate:
                ready.set()

        char.on(gatt.Characteristic.EVENT_SUBSCRIPTION, on_subscription)
        try:
            if not self._has_subscriber(char):
                await ready.wait()
        finally:
            char.remove_listener(gatt.Characteristic.EVENT_SUBSCRIPTION, on_subscription)

    def _has_subscriber(self, char: gatt.Characteristic[Any]) -> bool:
        for cccds in self.device.gatt_server.subscribers.values():
            value = cccds.get(char.handle)
            if value and value[0] & 0x03:
                return True
        return False

    async def set_battery(self, percent: int) -> None:
        self.battery_percent = percent
        self._battery.value = bytes([percent])
        await self.notify(self._battery, bytes([percent]))

    async def run(self, interval: float) -> None:
        """Produce a reading every ``interval`` seconds while someone listens."""
        await self.start()
        while not self._stopping:
            if self.is_connected:
                try:
                    await self.produce()
                except BaseBumbleError as exc:
                    log.info("%s: send failed (%s)", self.sim_name, exc)
            await asyncio.sleep(interval)


_SHARED_LINKS: dict[str, LocalLink] = {}


def shared_link(name: str) -> LocalLink:
    """An in-process Bluetooth 'air' by name, shared by simulators and the gateway.

    ``wardlink sim`` adapters attach to it with ``--set link=NAME``; the gateway side
    uses ``BumbleCentral.on_link(shared_link(NAME))`` in the same process (demo).
    """
    link = _SHARED_LINKS.get(name)
    if link is None:
        link = _SHARED_LINKS[name] = LocalLink()  # type: ignore[no-untyped-call]
    return link


def default_address(service_uuid: int) -> str:
    """A stable static random address per profile (top bits 11, service in the tail)."""
    return f"C0:57:00:00:{service_uuid >> 8:02X}:{service_uuid & 0xFF:02X}"


#: The ``--set`` keys every Bumble peripheral simulator reads.
BLE_SETTINGS: Mapping[str, str] = {
    "link": "an in-process LocalLink of this name (the demo)",
    "hci": "a Bumble transport for a real controller, e.g. usb:0",
    "address": "the peripheral's Bluetooth address (AA:BB:CC:DD:EE:FF)",
    "disconnect_every": "drop the link after every N readings (0 = never)",
}


class BleSimulatorAdapter:
    """Runs a Bumble peripheral as a ``wardlink sim`` simulator (RunnableSimulator).

    Where the radio is, by ``SimOptions.settings``:

    * ``link=NAME`` - an in-process LocalLink (see ``shared_link``); for the demo.
    * ``hci=SPEC`` - any Bumble transport, e.g. ``usb:0`` for a real dongle.
    * neither - a private LocalLink plus a second virtual controller served as HCI
      over TCP on ``--host``/``--port`` (0 = any free port); the printed
      ``tcp-client:HOST:PORT`` is what the gateway passes to ``BumbleCentral.open``.

    Other settings: ``address=AA:BB:..`` and, for the glucose meter, ``records=N``.
    Fault injection: ``disconnect_every=N`` drops the link after every N readings.
    """

    def __init__(
        self,
        sim_class: type[BlePeripheralSim],
        options: SimOptions,
        default_interval: float = 1.0,
        **sim_options: Any,
    ) -> None:
        self.sim_class = sim_class
        self.options = options
        self.default_interval = default_interval
        self.sim_options = sim_options
        self.sim: BlePeripheralSim | None = None
        self._transport: Transport | None = None
        self._server: socket.socket | None = None

    async def start(self) -> str:
        settings = self.options.settings
        address = settings.get("address", default_address(self.sim_class.service_uuid))
        if "link" in settings:
            device = make_peripheral_device(shared_link(settings["link"]), address,
                                            self.sim_class.model)
            where = f"BLE {address} on in-process link {settings['link']!r}"
        elif "hci" in settings:
            self._transport = await open_transport(settings["hci"])
            device = Device.with_hci(self.sim_class.model, Address(address),
                                     self._transport.source, self._transport.sink)
            where = f"BLE {address} on controller {settings['hci']}"
        else:
            link = LocalLink()  # type: ignore[no-untyped-call]
            server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            server.bind((self.options.host, self.options.port or 0))
            self._server = server
            self._transport = await open_tcp_server_transport_with_socket(server)
            Controller("gateway-side", host_source=self._transport.source,
                       host_sink=self._transport.sink, link=link)
            device = make_peripheral_device(link, address, self.sim_class.model)
            host, port = server.getsockname()[:2]
            where = f"BLE {address}; gateway HCI: tcp-client:{host}:{port}"
        self.sim = self.sim_class(device, **self.sim_options)
        await self.sim.start()
        return where

    async def run(self, stop: asyncio.Event) -> None:
        assert self.sim is not None, "start() first"
        rate = self.options.rate_hz
        interval = 1.0 / rate if rate else self.default_interval
        disconnect_every = int(self.options.settings.get("disconnect_every", "0"))
        readings = 0
        while not stop.is_set():
            if self.sim.is_connected:
                try:
                    await self.sim.produce()
                    readings += 1
                except BaseBumbleError as exc:
                    log.info("%s: send failed (%s)", self.sim.sim_name, exc)
                if disconnect_every and readings % disconnect_every == 0:
                    await self.sim.disconnect_all()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)

    async def close(self) -> None:
        if self.sim is not None:
            await self.sim.stop()
        if self._transport is not None:
            await self._transport.close()
        if self._server is not None:
            self._server.close()

    def phi_canaries(self) -> tuple[str, ...]:
        return ()  # BLE health profiles carry no patient identifiers (user index only)
