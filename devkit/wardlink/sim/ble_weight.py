"""``ble-weight-scale``: a Bumble Weight Scale Service (0x181D) peripheral.

Weight Measurement 0x2A9D is indicate-only (WSS 1.0); Weight Scale Feature 0x2A9E
is readable (time stamp, multiple users, BMI supported; 0.005 kg / 0.001 m
resolution).
"""

from __future__ import annotations

import random
from typing import Any, ClassVar

from bumble import gatt

from wardlink.codecs.ble_weight import encode_weight
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

# bits 0-2 time stamp / multiple users / BMI; bits 3-6 weight resolution 0.005 kg (1);
# bits 7-9 height resolution 0.001 m (3): Weight Scale Feature, GATT XML.
FEATURES = 0x07 | (1 << 3) | (3 << 7)


class WeightScaleSim(BlePeripheralSim):
    sim_name: ClassVar[str] = "ble-weight-scale"
    service_uuid: ClassVar[int] = 0x181D
    model: ClassVar[str] = "WL-SCALE-1"

    def __init__(self, *args: Any, user_id: int | None = 2, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user_id = user_id
        self.measurement = characteristic(0x2A9D, INDICATE)
        self._rng = random.Random(29)

    def profile_services(self) -> list[gatt.Service]:
        feature = characteristic(0x2A9E, READ, READABLE, FEATURES.to_bytes(4, "little"))
        return [gatt.Service(uuid(self.service_uuid), [self.measurement, feature])]

    async def send(self, weight_raw: int, bmi_raw: int | None = None,
                   height_raw: int | None = None) -> None:
        value = encode_weight(
            weight_raw, timestamp=self.device_now(), user_id=self.user_id, bmi_raw=bmi_raw,
            height_raw=height_raw,
        )
        await self.indicate(self.measurement, value)

    async def produce(self) -> None:
        weight = self._rng.randint(14000, 14400)  # 70.000 .. 72.000 kg in 0.005 kg steps
        height = 1750  # 1.750 m
        bmi = round(weight * 5 / 1000 / 1.75**2 * 10)
        await self.send(weight, bmi, height)


@register_simulator(
    "ble-weight-scale", "Bumble Weight Scale peripheral (indications, BMI, height)",
    settings=BLE_SETTINGS,
)
def weight_scale_simulator(options: SimOptions) -> BleSimulatorAdapter:
    """``wardlink sim ble-weight-scale``; see BleSimulatorAdapter for --set options."""
    return BleSimulatorAdapter(WeightScaleSim, options, default_interval=10.0)
