"""Simulated Nonin OEM III pulse oximeter (serial data format #2) on a pty.

The module streams 25-frame packets, three a second (75 frames/s at 9600 baud),
with a slowly wandering heart rate and SpO2 and, now and then, the device's own
'missing data' markers (HR 511, SpO2 127) as when the finger slips out of the
sensor. Format #2 has no patient fields, so the simulated patient exists only in
this simulator's configuration: its canaries prove that nothing the gateway adds
from configuration leaks either.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import ClassVar

from wardlink.codecs.nonin2 import HR_MISSING, SPO2_MISSING, encode_packet
from wardlink.sim.base import PtyDevice, Simulator
from wardlink.sim.registry import FAULT_SETTINGS, SimOptions, register_simulator

ARTIFACT = 0x20


SENSOR_DISCONNECTED = 0x40


@register_simulator("nonin-2", "Nonin OEM III pulse oximeter, serial format #2, on a pty")
class NoninSimulator(Simulator):
    """Nonin OEM III pulse oximeter, serial format #2, on a pty."""

    name: ClassVar[str] = "nonin-2"
    description: ClassVar[str] = "Nonin OEM III pulse oximeter, serial format #2, on a pty"
    default_rate_hz: ClassVar[float] = 3.0  # packets per second, as the module sends
    settings_help: ClassVar[Mapping[str, str]] = {
        **FAULT_SETTINGS,
        "dropout_every": "send a sensor-off packet after every N packets (default 40)",
    }

    def __init__(self, options: SimOptions) -> None:
        super().__init__(options)
        self.pty = PtyDevice(options.pty_link)
        self.heart_rate = float(self.rng.randint(60, 90))
        self.spo2 = float(self.rng.randint(94, 99))
        self.dropout_every = int(self.setting("dropout_every", 40))
        self.sensor_off_until = 0.0

    async def start(self) -> str:
        path = self.pty.open()
        return f"pty {self.pty.slave_path}" + (f" (link {path})" if self.pty.link else "")

    def unplug_sensor(self, seconds: float) -> None:
        """Fault: the finger sensor comes off the module (status SNSD, no readings)."""
        self.sensor_off_until = time.monotonic() + seconds

    def next_packet(self) -> bytes:
        if time.monotonic() < self.sensor_off_until:
            return encode_packet(HR_MISSING, SPO2_MISSING, status=SENSOR_DISCONNECTED)
        self.heart_rate = min(180.0, max(40.0, self.heart_rate + self.rng.uniform(-2, 2)))
        self.spo2 = min(100.0, max(85.0, self.spo2 + self.rng.uniform(-0.6, 0.6)))
        if self.dropout_every and self.sent and self.sent % self.dropout_every == 0:
            return encode_packet(HR_MISSING, SPO2_MISSING, status=ARTIFACT)
        pleth = self.rng.randint(20, 200)
        return encode_packet(round(self.heart_rate), round(self.spo2), pleth=pleth)

    async def send_one(self) -> None:
        self.pty.write(self.next_packet())

    async def write_raw(self, data: bytes) -> None:
        self.pty.write(data)

    async def disconnect(self) -> None:
        await self.pty.reopen()

    async def close(self) -> None:
        self.pty.close()
