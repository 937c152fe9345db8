"""``ble:weight-measurement`` - Weight Measurement 0x2A9D (Weight Scale Service).

Layout (GATT XML org.bluetooth.characteristic.weight_measurement; WSS 1.0):

* Flags uint8: bit 0 units (0 SI: kg and m, 1 imperial: lb and in); bit 1 Time
  Stamp; bit 2 User ID; bit 3 BMI and Height.
* Weight uint16: SI resolution 0.005 kg (exponent -3, steps of 5), imperial
  0.01 lb. 0xFFFF means "measurement unsuccessful" (WSS 1.0, Weight field).
* Time Stamp: Date Time (7).  User ID uint8 (255 unknown) -> patient context.
* BMI uint16, resolution 0.1 (unitless, kg/m2); Height uint16, 0.001 m or 0.1 in.

Values are scaled with Decimal so 70.005 kg stays 70.005, not 70.00499999.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import ClassVar

from wardlink.codecs._ble_common import (
    CHAR_WEIGHT_MEASUREMENT,
    BleValueCodec,
    Reader,
    encode_date_time,
    observe,
    user_patient,
)
from wardlink.codecs.base import Decoded
from wardlink.codecs.registry import register
from wardlink.model import Quality
from wardlink.model import nomenclature as mdc

UCUM_INCH = "[in_i]"
FLAG_IMPERIAL = 0x01
FLAG_TIME = 0x02
FLAG_USER = 0x04
FLAG_BMI_HEIGHT = 0x08
UNSUCCESSFUL = 0xFFFF

KG_STEP = Decimal("0.005")
LB_STEP = Decimal("0.01")
BMI_STEP = Decimal("0.1")
M_STEP = Decimal("0.001")
IN_STEP = Decimal("0.1")


@register
class WeightMeasurementCodec(BleValueCodec):
    name: ClassVar[str] = "ble:weight-measurement"
    description: ClassVar[str] = "BLE Weight Measurement 0x2A9D (weight, BMI, height)"
    characteristics: ClassVar[tuple[str, ...]] = (CHAR_WEIGHT_MEASUREMENT,)

    def decode(self, value: bytes) -> Decoded:
        reader = Reader(value, self.name)
        flags = reader.u8("flags")
        weight = reader.u16("weight")
        stamp = reader.date_time("time stamp") if flags & FLAG_TIME else None
        user = reader.u8("user id") if flags & FLAG_USER else None
        bmi_height = (reader.u16("BMI"), reader.u16("height")) if flags & FLAG_BMI_HEIGHT else None

        imperial = bool(flags & FLAG_IMPERIAL)
        at, notes = stamp.stamp(self.context) if stamp is not None else (self.context.now(), ())
        if weight == UNSUCCESSFUL:
            weight_obs = observe(
                self.context,
                "weight",
                mdc.BODY_WEIGHT,
                None,
                mdc.UCUM_LB if imperial else mdc.UCUM_KG,
                at,
                Quality.UNAVAILABLE,
                (*notes, "measurement-unsuccessful"),
            )
        else:
            weight_obs = observe(
                self.context,
                "weight",
                mdc.BODY_WEIGHT,
                Decimal(weight) * (LB_STEP if imperial else KG_STEP),
                mdc.UCUM_LB if imperial else mdc.UCUM_KG,
                at,
                flags=notes,
            )
        observations = [weight_obs]
        if bmi_height is not None:
            bmi, height = bmi_height
            observations.append(
                observe(
                    self.context,
                    "bmi",
                    mdc.BMI,
                    Decimal(bmi) * BMI_STEP,
                    mdc.UCUM_KG_M2,
                    at,
                    flags=notes,
                )
            )
            observations.append(
                observe(
                    self.context,
                    "height",
                    mdc.BODY_HEIGHT,
                    Decimal(height) * (IN_STEP if imperial else M_STEP),
                    UCUM_INCH if imperial else mdc.UCUM_M,
                    at,
                    flags=notes,
                )
            )
        return Decoded(observations=tuple(observations), patient=user_patient(user))


def encode_weight(
    weight_raw: int,
    imperial: bool = False,
    timestamp: datetime | None = None,
    user_id: int | None = None,
    bmi_raw: int | None = None,
    height_raw: int | None = None,
) -> bytes:
    """Wire bytes of a Weight Measurement from raw resolution steps (for simulators)."""
    flags = FLAG_IMPERIAL if imperial else 0
    body = weight_raw.to_bytes(2, "little")
    if timestamp is not None:
        flags |= FLAG_TIME
        body += encode_date_time(timestamp)
    if user_id is not None:
        flags |= FLAG_USER
        body += bytes([user_id])
    if bmi_raw is not None and height_raw is not None:
        flags |= FLAG_BMI_HEIGHT
        body += bmi_raw.to_bytes(2, "little") + height_raw.to_bytes(2, "little")
    return bytes([flags]) + body
