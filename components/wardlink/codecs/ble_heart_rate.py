"""``ble:heart-rate-measurement`` - Heart Rate Measurement 0x2A37 (Heart Rate Service).

Layout (GATT XML org.bluetooth.characteristic.heart_rate_measurement; HRS 1.0):

* Flags uint8: bit 0 value format (0 uint8, 1 uint16); bits 1-2 sensor contact
  status (0/1 not supported, 2 supported but no contact, 3 contact); bit 3 Energy
  Expended present; bit 4 RR-Interval values present.
* Heart Rate uint8 or uint16, beats per minute.
* Energy Expended uint16, kilojoules (if bit 3).
* RR-Intervals: zero or more uint16 in units of 1/1024 s, filling the rest.

HR has no timestamp: it is stamped on arrival. RR intervals become one
observation each, in seconds (n/1024 is exact in binary floating point).
"""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from wardlink.codecs._ble_common import (
    CHAR_HEART_RATE_MEASUREMENT,
    BleValueCodec,
    Reader,
    observe,
)
from wardlink.codecs.base import CodecError, Decoded
from wardlink.codecs.registry import register
from wardlink.model import Metric, Quality
from wardlink.model import nomenclature as mdc

RR_INTERVAL = Metric(mdc_code=147240, mdc_name="MDC_ECG_TIME_PD_RR_GL")  # 2::16168
ENERGY_EXPENDED = Metric(mdc_code=(129 << 16) | 119, mdc_name="MDC_HF_ENERGY")  # PHD_HF::119

FLAG_UINT16 = 0x01
FLAG_ENERGY = 0x08
FLAG_RR = 0x10
CONTACT_SUPPORTED = 0x04
CONTACT_DETECTED = 0x02


@register
class HeartRateMeasurementCodec(BleValueCodec):
    name: ClassVar[str] = "ble:heart-rate-measurement"
    description: ClassVar[str] = "BLE Heart Rate Measurement 0x2A37 (HR, energy, RR intervals)"
    characteristics: ClassVar[tuple[str, ...]] = (CHAR_HEART_RATE_MEASUREMENT,)

    def decode(self, value: bytes) -> Decoded:
        reader = Reader(value, self.name)
        flags = reader.u8("flags")
        rate = reader.u16("heart rate") if flags & FLAG_UINT16 else reader.u8("heart rate")
        energy = reader.u16("energy expended") if flags & FLAG_ENERGY else None
        intervals: list[int] = []
        if flags & FLAG_RR:
            if reader.remaining % 2:
                raise CodecError(f"{self.name}: odd number of bytes in RR intervals")
            if not reader.remaining:
                raise CodecError(f"{self.name}: RR-interval flag set but no RR interval")
            while reader.remaining:
                intervals.append(reader.u16("RR interval"))

        quality = Quality.VALID
        notes: tuple[str, ...] = ()
        if flags & CONTACT_SUPPORTED and not flags & CONTACT_DETECTED:
            quality, notes = Quality.QUESTIONABLE, ("sensor-contact-not-detected",)

        at = self.context.now()
        observations = [
            observe(
                self.context,
                "heart-rate",
                mdc.HEART_RATE_ECG,
                Decimal(rate),
                mdc.UCUM_PER_MIN,
                at,
                quality,
                notes,
            )
        ]
        if energy is not None:
            observations.append(
                observe(
                    self.context,
                    "energy-expended",
                    ENERGY_EXPENDED,
                    Decimal(energy),
                    "kJ",
                    at,
                    Quality.VALID,
                )
            )
        observations.extend(
            observe(
                self.context,
                "rr-interval",
                RR_INTERVAL,
                Decimal(raw) / 1024,
                "s",
                at,
                quality,
                notes,
            )
            for raw in intervals
        )
        return Decoded(observations=tuple(observations))


def encode_heart_rate(
    rate: int,
    contact: bool | None = True,
    energy_kj: int | None = None,
    rr_intervals_1024: tuple[int, ...] = (),
) -> bytes:
    """Wire bytes of a Heart Rate Measurement (for simulators and tests)."""
    flags = 0
    body = bytearray()
    if rate > 0xFF:
        flags |= FLAG_UINT16
        body += rate.to_bytes(2, "little")
    else:
        body.append(rate)
    if contact is not None:
        flags |= CONTACT_SUPPORTED | (CONTACT_DETECTED if contact else 0)
    if energy_kj is not None:
        flags |= FLAG_ENERGY
        body += energy_kj.to_bytes(2, "little")
    if rr_intervals_1024:
        flags |= FLAG_RR
        for raw in rr_intervals_1024:
            body += raw.to_bytes(2, "little")
    return bytes([flags]) + bytes(body)
