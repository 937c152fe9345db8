"""``ble-heart-rate``: a Bumble Heart Rate Service (0x180D) peripheral.

Heart Rate Measurement 0x2A37 is notify-only (HRS 1.0); Body Sensor Location
0x2A38 is readable (1 = chest). HRS has no device clock, so no Current Time.
"""

from __future__ import annotations

import random
from typing import Any, ClassVar

from bumble import gatt

from wardlink.codecs.ble_heart_rate import encode_heart_rate
from wardlink.sim.ble_peripheral import (
    BLE_SETTINGS,
    NOTIFY,
    READ,
    READABLE,
    BlePeripheralSim,
    BleSimulatorAdapter,
    characteristic,
    uuid,
)
from wardlink.sim.registry import SimOptions, register_simulator


class HeartRateSim(BlePeripheralSim):
    sim_name: ClassVar[str] = "ble-heart-rate"
    service_uuid: ClassVar[int] = 0x180D
    model: ClassVar[str] = "WL-HR-1"
    has_clock: ClassVar[bool] = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.measurement = characteristic(0x2A37, NOTIFY)
        self._rng = random.Random(37)

    def profile_services(self) -> list[gatt.Service]:
        location = characteristic(0x2A38, READ, READABLE, bytes([1]))
        return [gatt.Service(uuid(self.service_uuid), [self.measurement, location])]

    async def send(
        self, rate: int, rr_intervals_1024: tuple[int, ...] = (), contact: bool | None = True,
        energy_kj: int | None = None,
    ) -> None:
        await self.notify(
            self.measurement, encode_heart_rate(rate, contact, energy_kj, rr_intervals_1024)
        )

    async def produce(self) -> None:
        rate = self._rng.randint(62, 78)
        await self.send(rate, rr_intervals_1024=(round(60 / rate * 1024),))


@register_simulator(
    "ble-heart-rate", "Bumble Heart Rate Service peripheral (HR notifications)",
    settings=BLE_SETTINGS,
)
def heart_rate_simulator(options: SimOptions) -> BleSimulatorAdapter:
    """``wardlink sim ble-heart-rate``; see BleSimulatorAdapter for --set options."""
    return BleSimulatorAdapter(HeartRateSim, options, default_interval=1.0)
