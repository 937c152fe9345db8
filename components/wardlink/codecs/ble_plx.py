"""``ble:plx-spot-check`` (0x2A5E) and ``ble:plx-continuous`` (0x2A5F) - Pulse Oximeter.

Layouts (GATT XML org.bluetooth.characteristic.plx_spot_check_measurement and
plx_continuous_measurement; PLXS 1.0.1):

Spot-check flags uint8: bit 0 Timestamp, bit 1 Measurement Status, bit 2 Device and
Sensor Status, bit 3 Pulse Amplitude Index, bit 4 Device Clock is Not Set. Fields:
SpO2 SFLOAT (%), PR SFLOAT (bpm), [Timestamp 7], [Measurement Status uint16],
[Device and Sensor Status uint24], [PAI SFLOAT (%)].

Continuous flags uint8: bit 0 SpO2PR-Fast, bit 1 SpO2PR-Slow, bit 2 Measurement
Status, bit 3 Device and Sensor Status, bit 4 PAI. Fields: SpO2PR-Normal (2 SFLOAT),
[SpO2PR-Fast], [SpO2PR-Slow], [status uint16], [device status uint24], [PAI].

Measurement Status bits 5..15: ongoing, early estimate, validated, fully qualified,
from storage, demonstration, testing, calibration ongoing, unavailable,
questionable, invalid. Device and Sensor Status bits 0..15: extended display
update, equipment malfunction, signal processing irregularity, inadequate signal,
poor signal, low perfusion, erratic signal, nonpulsatile signal, questionable
pulse, signal analysis ongoing, sensor interference, sensor unconnected to user,
unknown sensor, sensor displaced, sensor malfunctioning, sensor disconnected.
Equipment and sensor faults also become a DeviceStatus with error codes.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from wardlink.codecs._ble_common import (
    CHAR_PLX_CONTINUOUS,
    CHAR_PLX_SPOT_CHECK,
    DEVICE_CLOCK_NOT_SET,
    BleValueCodec,
    Reader,
    bit_flags,
    encode_date_time,
    fault_status,
    observe,
    worst,
)
from wardlink.codecs.base import DecodeContext, Decoded
from wardlink.codecs.ieee11073 import MderNumber, NumberLike, sfloat_bytes
from wardlink.codecs.registry import register
from wardlink.model import DeviceStatus, Observation, Quality
from wardlink.model import nomenclature as mdc

MEASUREMENT_STATUS: dict[int, tuple[str, Quality]] = {
    5: ("measurement-ongoing", Quality.QUESTIONABLE),
    6: ("early-estimate", Quality.QUESTIONABLE),
    7: ("validated", Quality.VALID),
    8: ("fully-qualified", Quality.VALID),
    9: ("from-storage", Quality.VALID),
    10: ("demonstration-data", Quality.INVALID),  # not a patient reading
    11: ("testing-data", Quality.INVALID),
    12: ("calibration-ongoing", Quality.QUESTIONABLE),
    13: ("measurement-unavailable", Quality.UNAVAILABLE),
    14: ("questionable-measurement", Quality.QUESTIONABLE),
    15: ("invalid-measurement", Quality.INVALID),
}
DEVICE_SENSOR_STATUS: dict[int, tuple[str, Quality]] = {
    0: ("extended-display-update", Quality.VALID),
    1: ("equipment-malfunction", Quality.INVALID),
    2: ("signal-processing-irregularity", Quality.QUESTIONABLE),
    3: ("inadequate-signal", Quality.QUESTIONABLE),
    4: ("poor-signal", Quality.QUESTIONABLE),
    5: ("low-perfusion", Quality.QUESTIONABLE),
    6: ("erratic-signal", Quality.QUESTIONABLE),
    7: ("nonpulsatile-signal", Quality.QUESTIONABLE),
    8: ("questionable-pulse", Quality.QUESTIONABLE),
    9: ("signal-analysis-ongoing", Quality.QUESTIONABLE),
    10: ("sensor-interference", Quality.QUESTIONABLE),
    11: ("sensor-unconnected", Quality.INVALID),
    12: ("unknown-sensor", Quality.INVALID),
    13: ("sensor-displaced", Quality.QUESTIONABLE),
    14: ("sensor-malfunctioning", Quality.INVALID),
    15: ("sensor-disconnected", Quality.INVALID),
}
DEVICE_FAULT_BITS = (1, 11, 12, 14, 15)  # become DeviceStatus error codes

SPOT_TIME, SPOT_STATUS, SPOT_DEVICE, SPOT_PAI, SPOT_CLOCK_NOT_SET = 0x01, 0x02, 0x04, 0x08, 0x10
CONT_FAST, CONT_SLOW, CONT_STATUS, CONT_DEVICE, CONT_PAI = 0x01, 0x02, 0x04, 0x08, 0x10


def _status(
    context: DecodeContext, measurement: int, device: int
) -> tuple[tuple[str, ...], Quality, DeviceStatus | None]:
    m_flags, m_quality = bit_flags(measurement, MEASUREMENT_STATUS)
    d_flags, d_quality = bit_flags(device, DEVICE_SENSOR_STATUS)
    faults = tuple(DEVICE_SENSOR_STATUS[bit][0] for bit in DEVICE_FAULT_BITS if device >> bit & 1)
    return m_flags + d_flags, worst(m_quality, d_quality), fault_status(context, faults)


def _pair(
    context: DecodeContext,
    spo2: MderNumber,
    rate: MderNumber,
    suffix: str,
    at: datetime,
    quality: Quality,
    flags: tuple[str, ...],
) -> list[Observation]:
    return [
        observe(context, f"spo2{suffix}", mdc.SPO2, spo2, mdc.UCUM_PERCENT, at, quality, flags),
        observe(
            context,
            f"pulse-rate{suffix}",
            mdc.PULSE_RATE_OXIM,
            rate,
            mdc.UCUM_PER_MIN,
            at,
            quality,
            flags,
        ),
    ]


@register
class PlxSpotCheckCodec(BleValueCodec):
    name: ClassVar[str] = "ble:plx-spot-check"
    description: ClassVar[str] = "BLE PLX Spot-check Measurement 0x2A5E (SpO2, PR, status, PAI)"
    characteristics: ClassVar[tuple[str, ...]] = (CHAR_PLX_SPOT_CHECK,)

    def decode(self, value: bytes) -> Decoded:
        reader = Reader(value, self.name)
        flags = reader.u8("flags")
        spo2 = reader.sfloat("SpO2")
        rate = reader.sfloat("PR")
        stamp = reader.date_time("timestamp") if flags & SPOT_TIME else None
        measurement = reader.u16("measurement status") if flags & SPOT_STATUS else 0
        device = reader.u24("device and sensor status") if flags & SPOT_DEVICE else 0
        pai = reader.sfloat("pulse amplitude index") if flags & SPOT_PAI else None

        notes, quality, status = _status(self.context, measurement, device)
        if flags & SPOT_CLOCK_NOT_SET or stamp is None:
            # A timestamp from a clock that was never set says nothing: use arrival.
            at = self.context.now()
            time_flags: tuple[str, ...] = (
                (DEVICE_CLOCK_NOT_SET,) if flags & SPOT_CLOCK_NOT_SET else ()
            )
        else:
            at, time_flags = stamp.stamp(self.context)
        common = ("spot-check", *time_flags, *notes)
        observations = _pair(self.context, spo2, rate, "", at, quality, common)
        if pai is not None:
            observations.append(
                observe(
                    self.context,
                    "pai",
                    mdc.PERFUSION_INDEX,
                    pai,
                    mdc.UCUM_PERCENT,
                    at,
                    quality,
                    common,
                )
            )
        return Decoded(observations=tuple(observations), status=status)


@register
class PlxContinuousCodec(BleValueCodec):
    name: ClassVar[str] = "ble:plx-continuous"
    description: ClassVar[str] = "BLE PLX Continuous Measurement 0x2A5F (normal/fast/slow, PAI)"
    characteristics: ClassVar[tuple[str, ...]] = (CHAR_PLX_CONTINUOUS,)

    def decode(self, value: bytes) -> Decoded:
        reader = Reader(value, self.name)
        flags = reader.u8("flags")
        normal = (reader.sfloat("SpO2 normal"), reader.sfloat("PR normal"))
        fast = (reader.sfloat("SpO2 fast"), reader.sfloat("PR fast")) if flags & CONT_FAST else None
        slow = (reader.sfloat("SpO2 slow"), reader.sfloat("PR slow")) if flags & CONT_SLOW else None
        measurement = reader.u16("measurement status") if flags & CONT_STATUS else 0
        device = reader.u24("device and sensor status") if flags & CONT_DEVICE else 0
        pai = reader.sfloat("pulse amplitude index") if flags & CONT_PAI else None

        notes, quality, status = _status(self.context, measurement, device)
        at = self.context.now()  # continuous measurements carry no timestamp
        observations = _pair(self.context, *normal, "", at, quality, notes)
        if fast is not None:
            observations += _pair(self.context, *fast, "-fast", at, quality, ("fast", *notes))
        if slow is not None:
            observations += _pair(self.context, *slow, "-slow", at, quality, ("slow", *notes))
        if pai is not None:
            observations.append(
                observe(
                    self.context,
                    "pai",
                    mdc.PERFUSION_INDEX,
                    pai,
                    mdc.UCUM_PERCENT,
                    at,
                    quality,
                    notes,
                )
            )
        return Decoded(observations=tuple(observations), status=status)


def encode_spot_check(
    spo2: NumberLike,
    rate: NumberLike,
    timestamp: datetime | None = None,
    measurement_status: int | None = None,
    device_status: int | None = None,
    pai: NumberLike | None = None,
    clock_not_set: bool = False,
) -> bytes:
    """Wire bytes of a PLX Spot-check Measurement (for simulators and tests)."""
    flags = SPOT_CLOCK_NOT_SET if clock_not_set else 0
    body = sfloat_bytes(spo2) + sfloat_bytes(rate)
    if timestamp is not None:
        flags |= SPOT_TIME
        body += encode_date_time(timestamp)
    if measurement_status is not None:
        flags |= SPOT_STATUS
        body += measurement_status.to_bytes(2, "little")
    if device_status is not None:
        flags |= SPOT_DEVICE
        body += device_status.to_bytes(3, "little")
    if pai is not None:
        flags |= SPOT_PAI
        body += sfloat_bytes(pai)
    return bytes([flags]) + body


def encode_continuous(
    spo2: NumberLike,
    rate: NumberLike,
    fast: tuple[NumberLike, NumberLike] | None = None,
    slow: tuple[NumberLike, NumberLike] | None = None,
    measurement_status: int | None = None,
    device_status: int | None = None,
    pai: NumberLike | None = None,
) -> bytes:
    """Wire bytes of a PLX Continuous Measurement (for simulators and tests)."""
    flags = 0
    body = sfloat_bytes(spo2) + sfloat_bytes(rate)
    if fast is not None:
        flags |= CONT_FAST
        body += sfloat_bytes(fast[0]) + sfloat_bytes(fast[1])
    if slow is not None:
        flags |= CONT_SLOW
        body += sfloat_bytes(slow[0]) + sfloat_bytes(slow[1])
    if measurement_status is not None:
        flags |= CONT_STATUS
        body += measurement_status.to_bytes(2, "little")
    if device_status is not None:
        flags |= CONT_DEVICE
        body += device_status.to_bytes(3, "little")
    if pai is not None:
        flags |= CONT_PAI
        body += sfloat_bytes(pai)
    return bytes([flags]) + body
