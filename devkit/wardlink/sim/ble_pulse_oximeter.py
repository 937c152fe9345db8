"""``ble-pulse-oximeter``: a Bumble Pulse Oximeter Service (0x1822) peripheral.

PLX Spot-check Measurement 0x2A5E is indicate-only and PLX Continuous Measurement
0x2A5F notify-only (PLXS 1.0.1); PLX Features 0x2A60 is readable (measurement
status, device and sensor status, timestamp and PAI supported). ``fault()``
sends a continuous reading with a sensor fault, which the codec turns into a
DeviceStatus with error codes.
"""

from __future__ import annotations

import random
from typing import Any, ClassVar

from bumble import gatt

from wardlink.codecs.ble_plx import encode_continuous, encode_spot_check
from wardlink.codecs.ieee11073 import NumberLike, Special
from wardlink.sim.ble_peripheral import (
    BLE_SETTINGS,
    INDICATE,
    NOTIFY,
    READ,
    READABLE,
    BlePeripheralSim,
    BleSimulatorAdapter,
    characteristic,
    uuid,
)
from wardlink.sim.registry import SimOptions, register_simulator

# Supported features: measurement status, device & sensor status, spot-check
# timestamp, PAI (bits 0, 1, 3, 6); then the supported status bits themselves.
FEATURES = (
    (0x0001 | 0x0002 | 0x0008 | 0x0040).to_bytes(2, "little")
    + (0xFFE0).to_bytes(2, "little")
    + (0x00FFFF).to_bytes(3, "little")
)
SENSOR_DISCONNECTED = 1 << 15


class PulseOximeterSim(BlePeripheralSim):
    sim_name: ClassVar[str] = "ble-pulse-oximeter"
    service_uuid: ClassVar[int] = 0x1822
    model: ClassVar[str] = "WL-PLX-1"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.spot_check = characteristic(0x2A5E, INDICATE)
        self.continuous = characteristic(0x2A5F, NOTIFY)
        self._rng = random.Random(22)

    def profile_services(self) -> list[gatt.Service]:
        features = characteristic(0x2A60, READ, READABLE, FEATURES)
        return [gatt.Service(uuid(self.service_uuid),
                             [self.spot_check, self.continuous, features])]

    async def send_spot_check(self, spo2: NumberLike, rate: NumberLike,
                              pai: NumberLike | None = None) -> None:
        value = encode_spot_check(spo2, rate, timestamp=self.device_now(),
                                  measurement_status=0, device_status=0, pai=pai)
        await self.indicate(self.spot_check, value)

    async def send_continuous(self, spo2: NumberLike, rate: NumberLike,
                              device_status: int = 0) -> None:
        value = encode_continuous(spo2, rate, measurement_status=0, device_status=device_status)
        await self.notify(self.continuous, value)

    async def fault(self) -> None:
        """A reading during which the sensor came off: no values, a device fault."""
        await self.send_continuous(Special.NAN, Special.NAN, device_status=SENSOR_DISCONNECTED)

    async def produce(self) -> None:
        await self.send_continuous(self._rng.randint(95, 99), self._rng.randint(60, 80))


@register_simulator(
    "ble-pulse-oximeter", "Bumble Pulse Oximeter peripheral (spot-check + continuous)",
    settings=BLE_SETTINGS,
)
def pulse_oximeter_simulator(options: SimOptions) -> BleSimulatorAdapter:
    """``wardlink sim ble-pulse-oximeter``; see BleSimulatorAdapter for --set options."""
    return BleSimulatorAdapter(PulseOximeterSim, options, default_interval=1.0)
