"""A BLE device in the DeviceProxy: its profile turned into a bleak link.

The profile says which service to scan for, which characteristics to subscribe to
or read, whether to bond, and which addresses to accept; this module turns that
into ``BleSettings`` for the bleak transport and, for glucose meters, puts the
RACP record sync in front of it so that stored records come across once.

The bleak backend is the platform's (BlueZ on a gateway) unless a process-wide
one is set with ``use_ble_backend`` - the demo and the tests set the Bumble
backend, so the same code runs against emulated peripherals.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

from wardlink.codecs._ble_common import CHAR_RACP
from wardlink.profiles.schema import BleTransportSpec
from wardlink.transports.base import Chunk, Transport, TransportError
from wardlink.transports.ble import BleakBackends, BleSettings, BleTransport

if TYPE_CHECKING:
    from wardlink.devices.racp import GlucoseSync, SyncResult

_SUBSCRIBED_ROLES = frozenset({"notify", "indicate", "control-point"})
_READ_ROLES = frozenset({"read", "time"})
_backend: BleakBackends | None = None


def use_ble_backend(backend: BleakBackends | None) -> None:
    """Set the bleak backend every BLE device link in this process uses (None: platform)."""
    global _backend
    _backend = backend


def current_backend() -> BleakBackends | None:
    """The backend set with ``use_ble_backend`` (None: the platform's); a scan uses it too."""
    return _backend


def ble_settings(spec: BleTransportSpec, address: str | None = None) -> BleSettings:
    """``BleSettings`` from a profile; ``address`` (site config) narrows the allow-list.

    Fail closed, as the transport does: with neither a site address nor a profile
    allow-list no device is accepted - a ward is full of other people's meters
    offering the same service - and ``BleSettings`` refuses the configuration
    (ValueError), which the DeviceProxy reports as a configuration fault.
    """
    addresses = (address.upper(),) if address else spec.address_allow_list
    return BleSettings(
        service_uuids=(spec.service_uuid,),
        characteristics=tuple(c.uuid for c in spec.characteristics if c.role in _SUBSCRIBED_ROLES),
        addresses=addresses,
        pair=spec.bonding,
        read_on_connect=tuple(c.uuid for c in spec.characteristics if c.role in _READ_ROLES),
    )


class BleDeviceLink(Transport):
    """The bleak transport, with the glucose RACP sync in front when the device has one."""

    def __init__(
        self,
        spec: BleTransportSpec,
        device_id: str,
        state_dir: Path,
        address: str | None = None,
        retry_first_open: bool = True,
    ) -> None:
        self.transport = BleTransport(
            ble_settings(spec, address), backend=_backend, retry_first_open=retry_first_open
        )
        self._sync: GlucoseSync | None = None
        if any(c.uuid == CHAR_RACP for c in spec.characteristics):
            from wardlink.devices.racp import GlucoseSync, SyncStateStore
            from wardlink.runtime.files import private_dir

            store = SyncStateStore(private_dir(state_dir))  # 0700: the DeviceProxy's own
            self._sync = GlucoseSync(self.transport, device_id, store)

    @property
    def connected(self) -> bool:
        return self.transport.connected

    async def sync_now(self) -> SyncResult:
        """Ask the meter for the records not yet synced, now (the technician's action)."""
        if self._sync is None:
            raise TransportError("this device has no stored records (no RACP)")
        return await self._sync.sync_now()

    def chunks(self) -> AsyncIterator[Chunk]:
        if self._sync is not None:
            return self._sync.chunks()
        return self.transport.chunks()

    async def write(self, data: bytes, target: str = "") -> None:
        await self.transport.write(data, target)

    async def close(self) -> None:
        await self.transport.close()
