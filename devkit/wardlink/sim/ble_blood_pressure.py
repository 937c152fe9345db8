"""``ble-blood-pressure``: a Bumble Blood Pressure Service (0x1810) peripheral.

Blood Pressure Measurement 0x2A35 is indicate-only (BLS 1.1); Blood Pressure
Feature 0x2A49 is readable. Readings carry a time stamp from the skewed device
clock, a pulse rate and a user index (1), so multi-user handling is exercised.
"""

from __future__ import annotations

import random
from typing import Any, ClassVar

from bumble import gatt

from wardlink.codecs.ble_blood_pressure import encode_blood_pressure
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


class BloodPressureSim(BlePeripheralSim):
    sim_name: ClassVar[str] = "ble-blood-pressure"
    service_uuid: ClassVar[int] = 0x1810
    model: ClassVar[str] = "WL-BP-1"

    def __init__(self, *args: Any, user_id: int | None = 1, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user_id = user_id
        self.measurement = characteristic(0x2A35, INDICATE)
        self._rng = random.Random(35)

    def profile_services(self) -> list[gatt.Service]:
        feature = characteristic(0x2A49, READ, READABLE, (0x0007).to_bytes(2, "little"))
        return [gatt.Service(uuid(self.service_uuid), [self.measurement, feature])]

    async def send(
        self, systolic: NumberLike, diastolic: NumberLike, mean: NumberLike,
        pulse: NumberLike | None = None, status: int | None = 0,
    ) -> None:
        value = encode_blood_pressure(
            systolic, diastolic, mean, timestamp=self.device_now(), pulse=pulse,
            user_id=self.user_id, status=status,
        )
        await self.indicate(self.measurement, value)

    async def produce(self) -> None:
        systolic = self._rng.randint(112, 132)
        diastolic = self._rng.randint(70, 84)
        mean = round((systolic + 2 * diastolic) / 3)
        await self.send(systolic, diastolic, mean, pulse=self._rng.randint(60, 80))


@register_simulator(
    "ble-blood-pressure", "Bumble Blood Pressure peripheral (indications, user index)",
    settings=BLE_SETTINGS,
)
def blood_pressure_simulator(options: SimOptions) -> BleSimulatorAdapter:
    """``wardlink sim ble-blood-pressure``; see BleSimulatorAdapter for --set options."""
    return BleSimulatorAdapter(BloodPressureSim, options, default_interval=10.0)
