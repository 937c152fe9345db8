"""``ble:blood-pressure-measurement`` - Blood Pressure Measurement 0x2A35 (BLS).

Layout (GATT XML org.bluetooth.characteristic.blood_pressure_measurement; BLS 1.1.1):

* Flags uint8: bit 0 units (0 mmHg, 1 kPa); bit 1 Time Stamp; bit 2 Pulse Rate;
  bit 3 User ID; bit 4 Measurement Status. Bits 5-7 are reserved and ignored
  (some meters in the field set them; receivers must not care).
* Systolic, Diastolic, Mean Arterial Pressure: SFLOAT each, mmHg or kPa.
* Time Stamp: Date Time (7 octets).  Pulse Rate: SFLOAT, beats per minute.
* User ID: uint8, 255 = unknown user. It goes to the patient context, not to flags.
* Measurement Status uint16: bit 0 body movement, bit 1 cuff too loose, bit 2
  irregular pulse, bits 3-4 pulse rate range (1 above upper limit, 2 below lower
  limit), bit 5 improper measurement position.

The indication is "indicate" only (BLS), so the transport must confirm it; bleak
and our Bumble backend do that below the API.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from wardlink.codecs._ble_common import (
    CHAR_BLOOD_PRESSURE_MEASUREMENT,
    BleValueCodec,
    Reader,
    bit_flags,
    encode_date_time,
    observe,
    user_patient,
)
from wardlink.codecs.base import Decoded
from wardlink.codecs.ieee11073 import NumberLike, sfloat_bytes
from wardlink.codecs.registry import register
from wardlink.model import Quality
from wardlink.model import nomenclature as mdc

FLAG_KPA = 0x01
FLAG_TIME = 0x02
FLAG_PULSE = 0x04
FLAG_USER = 0x08
FLAG_STATUS = 0x10

STATUS_BITS: dict[int, tuple[str, Quality]] = {
    0: ("body-movement", Quality.QUESTIONABLE),
    1: ("cuff-too-loose", Quality.QUESTIONABLE),
    2: ("irregular-pulse", Quality.VALID),  # a clinical finding, not a bad reading
    5: ("improper-position", Quality.QUESTIONABLE),
}
PULSE_RANGE = {1: "pulse-above-upper-limit", 2: "pulse-below-lower-limit", 3: "pulse-range-rfu"}


@register
class BloodPressureMeasurementCodec(BleValueCodec):
    name: ClassVar[str] = "ble:blood-pressure-measurement"
    description: ClassVar[str] = "BLE Blood Pressure Measurement 0x2A35 (sys/dia/MAP, pulse)"
    characteristics: ClassVar[tuple[str, ...]] = (CHAR_BLOOD_PRESSURE_MEASUREMENT,)

    def decode(self, value: bytes) -> Decoded:
        reader = Reader(value, self.name)
        flags = reader.u8("flags")
        systolic = reader.sfloat("systolic")
        diastolic = reader.sfloat("diastolic")
        mean = reader.sfloat("mean arterial pressure")
        stamp = reader.date_time("time stamp") if flags & FLAG_TIME else None
        pulse = reader.sfloat("pulse rate") if flags & FLAG_PULSE else None
        user = reader.u8("user id") if flags & FLAG_USER else None
        status = reader.u16("measurement status") if flags & FLAG_STATUS else 0

        status_flags, quality = bit_flags(status, STATUS_BITS)
        pulse_range = PULSE_RANGE.get((status >> 3) & 0x03)

        if stamp is not None:
            at, time_flags = stamp.stamp(self.context)
        else:
            at, time_flags = self.context.now(), ()
        common = time_flags + status_flags
        unit = mdc.UCUM_KPA if flags & FLAG_KPA else mdc.UCUM_MMHG
        observations = [
            observe(self.context, "systolic", mdc.BP_SYSTOLIC, systolic, unit, at, quality, common),
            observe(
                self.context, "diastolic", mdc.BP_DIASTOLIC, diastolic, unit, at, quality, common
            ),
            observe(self.context, "mean", mdc.BP_MEAN, mean, unit, at, quality, common),
        ]
        if pulse is not None:
            pulse_flags = common + ((pulse_range,) if pulse_range else ())
            observations.append(
                observe(
                    self.context,
                    "pulse-rate",
                    mdc.PULSE_RATE_NIBP,
                    pulse,
                    mdc.UCUM_PER_MIN,
                    at,
                    quality,
                    pulse_flags,
                )
            )
        return Decoded(observations=tuple(observations), patient=user_patient(user))


def encode_blood_pressure(
    systolic: NumberLike,
    diastolic: NumberLike,
    mean: NumberLike,
    kpa: bool = False,
    timestamp: datetime | None = None,
    pulse: NumberLike | None = None,
    user_id: int | None = None,
    status: int | None = None,
) -> bytes:
    """Wire bytes of a Blood Pressure Measurement (for simulators and tests)."""
    flags = FLAG_KPA if kpa else 0
    body = sfloat_bytes(systolic) + sfloat_bytes(diastolic) + sfloat_bytes(mean)
    if timestamp is not None:
        flags |= FLAG_TIME
        body += encode_date_time(timestamp)
    if pulse is not None:
        flags |= FLAG_PULSE
        body += sfloat_bytes(pulse)
    if user_id is not None:
        flags |= FLAG_USER
        body += bytes([user_id])
    if status is not None:
        flags |= FLAG_STATUS
        body += status.to_bytes(2, "little")
    return bytes([flags]) + body
