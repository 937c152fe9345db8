"""An in-process Bluetooth 'air': one Bumble LocalLink, a central, and simulators.

Everything is real Bumble: controllers, hosts, ATT/GATT, SMP. Only the radio is
replaced by the LocalLink. bleak runs unchanged on top, through the backend
classes from ``wardlink.sim.bleak_bumble``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest
from bumble.link import LocalLink

from wardlink.sim.ble_peripheral import BlePeripheralSim
from wardlink.sim.bleak_bumble import BumbleCentral
from wardlink.transports.base import Backoff
from wardlink.transports.ble import BleakBackends, BleSettings, BleTransport

S = TypeVar("S", bound=BlePeripheralSim)
FAST_BACKOFF = Backoff(initial=0.02, maximum=0.2)


@dataclass
class Air:
    link: LocalLink
    central: BumbleCentral
    backends: BleakBackends
    sims: list[BlePeripheralSim] = field(default_factory=list)
    transports: list[BleTransport] = field(default_factory=list)
    _next: int = 1

    async def add(self, sim_class: type[S], **options: Any) -> S:
        address = f"C0:DE:00:00:00:{self._next:02X}"
        self._next += 1
        sim = sim_class.on_link(self.link, address, **options)
        await sim.start()
        self.sims.append(sim)
        return sim  # type: ignore[return-value]

    def address_of(self, sim: BlePeripheralSim) -> str:
        return sim.device.random_address.to_string(with_type_qualifier=False)

    def transport(self, sim: BlePeripheralSim, *chars: str, **settings: Any) -> BleTransport:
        transport = BleTransport(
            BleSettings(
                service_uuids=(f"{sim.service_uuid:04x}",),
                characteristics=chars,
                addresses=(self.address_of(sim),),
                scan_timeout=5.0,
                connect_timeout=5.0,
                **settings,
            ),
            backoff=FAST_BACKOFF,
            backend=self.backends,
        )
        self.transports.append(transport)
        return transport


@pytest.fixture
async def air() -> AsyncIterator[Air]:
    link = LocalLink()  # type: ignore[no-untyped-call]
    central = BumbleCentral.on_link(link)
    world = Air(link, central, central.bleak_backends())
    try:
        yield world
    finally:
        for transport in world.transports:
            await transport.close()
        for sim in world.sims:
            await sim.stop()
        await central.close()
