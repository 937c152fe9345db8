"""``ble:temperature-measurement`` - Temperature Measurement 0x2A1C (Health Thermometer).

Layout (GATT XML org.bluetooth.characteristic.temperature_measurement; HTS 1.0):

* Flags uint8: bit 0 units (0 Celsius, 1 Fahrenheit); bit 1 Time Stamp; bit 2
  Temperature Type present.
* Temperature: FLOAT (IEEE-11073 32-bit) - the only health codec here that uses
  the 32-bit form.
* Time Stamp: Date Time (7 octets).
* Temperature Type uint8 (org.bluetooth.characteristic.temperature_type): 1 armpit,
  2 body (general), 3 ear (usually ear lobe), 4 finger, 5 gastro-intestinal tract,
  6 mouth, 7 rectum, 8 toe, 9 tympanum.

The site becomes a flag (``site:mouth``); the metric stays MDC_TEMP_BODY unless
the profile maps ``temperature`` to a site-specific term.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from wardlink.codecs._ble_common import (
    CHAR_TEMPERATURE_MEASUREMENT,
    BleValueCodec,
    Reader,
    encode_date_time,
    observe,
)
from wardlink.codecs.base import Decoded
from wardlink.codecs.ieee11073 import NumberLike, float_bytes
from wardlink.codecs.registry import register
from wardlink.model import nomenclature as mdc

FLAG_FAHRENHEIT = 0x01
FLAG_TIME = 0x02
FLAG_TYPE = 0x04

SITES = {
    1: "armpit",
    2: "body",
    3: "ear",
    4: "finger",
    5: "gastro-intestinal-tract",
    6: "mouth",
    7: "rectum",
    8: "toe",
    9: "tympanum",
}


@register
class TemperatureMeasurementCodec(BleValueCodec):
    name: ClassVar[str] = "ble:temperature-measurement"
    description: ClassVar[str] = "BLE Temperature Measurement 0x2A1C (FLOAT, Cel/degF, site)"
    characteristics: ClassVar[tuple[str, ...]] = (CHAR_TEMPERATURE_MEASUREMENT,)

    def decode(self, value: bytes) -> Decoded:
        reader = Reader(value, self.name)
        flags = reader.u8("flags")
        temperature = reader.float32("temperature")
        stamp = reader.date_time("time stamp") if flags & FLAG_TIME else None
        site = reader.u8("temperature type") if flags & FLAG_TYPE else None

        at, notes = stamp.stamp(self.context) if stamp is not None else (self.context.now(), ())
        if site is not None:
            notes = (*notes, f"site:{SITES.get(site, 'rfu')}")
        unit = mdc.UCUM_DEGF if flags & FLAG_FAHRENHEIT else mdc.UCUM_CEL
        return Decoded(
            observations=(
                observe(
                    self.context, "temperature", mdc.TEMP_BODY, temperature, unit, at, flags=notes
                ),
            )
        )


def encode_temperature(
    temperature: NumberLike,
    fahrenheit: bool = False,
    timestamp: datetime | None = None,
    site: int | None = None,
) -> bytes:
    """Wire bytes of a Temperature Measurement (for simulators and tests)."""
    flags = FLAG_FAHRENHEIT if fahrenheit else 0
    body = float_bytes(temperature)
    if timestamp is not None:
        flags |= FLAG_TIME
        body += encode_date_time(timestamp)
    if site is not None:
        flags |= FLAG_TYPE
        body += bytes([site])
    return bytes([flags]) + body
