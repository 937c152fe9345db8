"""``ble-thermometer``: a Bumble Health Thermometer Service (0x1809) peripheral.

Temperature Measurement 0x2A1C is indicate-only (HTS 1.0); Temperature Type 0x2A1D
is readable (6 = mouth). Readings carry the skewed device-clock time stamp.
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any, ClassVar

from bumble import gatt

from wardlink.codecs.ble_thermometer import encode_temperature
from wardlink.codecs.ieee11073 import NumberLike
from wardlink.sim.ble_peripheral import (
    BLE_SETTINGS,
    INDICATE,
    READ,
    READABLE,
    BlePeripheralSim,
    BleSimulatorAdapter,
    characteristic,
    uuid,
)
from wardlink.sim.registry import SimOptions, register_simulator


class ThermometerSim(BlePeripheralSim):
    sim_name: ClassVar[str] = "ble-thermometer"
    service_uuid: ClassVar[int] = 0x1809
    model: ClassVar[str] = "WL-THERMO-1"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.measurement = characteristic(0x2A1C, INDICATE)
        self._rng = random.Random(28)

    def profile_services(self) -> list[gatt.Service]:
        site = characteristic(0x2A1D, READ, READABLE, bytes([6]))
        return [gatt.Service(uuid(self.service_uuid), [self.measurement, site])]

    async def send(
        self, celsius: NumberLike, site: int | None = 6,
        fahrenheit: bool = False,
    ) -> None:
        value = encode_temperature(
            celsius, fahrenheit=fahrenheit, timestamp=self.device_now(), site=site
        )
        await self.indicate(self.measurement, value)

    async def produce(self) -> None:
        await self.send(Decimal(self._rng.randint(3650, 3740)).scaleb(-2))


@register_simulator(
    "ble-thermometer", "Bumble Health Thermometer peripheral (indications)",
    settings=BLE_SETTINGS,
)
def thermometer_simulator(options: SimOptions) -> BleSimulatorAdapter:
    """``wardlink sim ble-thermometer``; see BleSimulatorAdapter for --set options."""
    return BleSimulatorAdapter(ThermometerSim, options, default_interval=5.0)
