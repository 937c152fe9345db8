"""Shared pieces of the Bluetooth LE health codecs: UUIDs, a bounded reader, time.

Sources, checked with the search tool (see docs/ble.md for the full list):

* Field layouts: the Bluetooth SIG GATT characteristic XML definitions
  (``org.bluetooth.characteristic.*.xml``, mirrored in github:oesmith/gatt-xml) and
  the GATT Specification Supplement (GSS); all multi-byte fields little-endian.
* Date Time 0x2A08: year uint16 (0 = unknown), month uint8 (0 = unknown), day uint8
  (0 = unknown), hours, minutes, seconds. Current Time 0x2A2B: Exact Time 256
  (Day Date Time + Fractions256) followed by Adjust Reason: 10 octets.

Device time. Health devices stamp measurements with their own clock, in local time
without a zone, and that clock drifts or was never set. Codecs therefore stamp a
measurement with the device time *as if it were UTC* and add the flag
``device-time``. Whoever can read the device clock (the BLE transport reads Current
Time 0x2A2B or Date Time 0x2A08 on connect) measures the offset with
``clock_offset`` and shifts those observations with ``apply_clock_offset``, which
turns the flag into ``device-time-corrected``. Observations stamped on arrival
(``context.now()``) are never shifted.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import ClassVar

from wardlink.codecs.base import CodecError, DecodeContext, Decoded, ValueCodec
from wardlink.codecs.ieee11073 import MderNumber, decode_float, decode_sfloat
from wardlink.model import DeviceStatus, Metric, Observation, PatientContext, Quality
from wardlink.model.status import Connectivity

BASE_UUID_SUFFIX = "-0000-1000-8000-00805f9b34fb"


def uuid16(short: int) -> str:
    """The full 128-bit form of a SIG 16-bit UUID, lower case, as bleak normalizes it."""
    return f"0000{short:04x}{BASE_UUID_SUFFIX}"


def normalize_uuid(value: str) -> str:
    """Accept ``2a37``, ``0x2A37`` or a full UUID; return the full lower-case form."""
    text = value.strip().lower()
    text = text.removeprefix("0x")
    if len(text) == 4:
        return uuid16(int(text, 16))
    if len(text) == 8:
        return f"{text}{BASE_UUID_SUFFIX}"
    return text


# Services (Bluetooth SIG Assigned Numbers).
SERVICE_GLUCOSE = uuid16(0x1808)
SERVICE_HEALTH_THERMOMETER = uuid16(0x1809)
SERVICE_DEVICE_INFORMATION = uuid16(0x180A)
SERVICE_HEART_RATE = uuid16(0x180D)
SERVICE_BATTERY = uuid16(0x180F)
SERVICE_BLOOD_PRESSURE = uuid16(0x1810)
SERVICE_CURRENT_TIME = uuid16(0x1805)
SERVICE_WEIGHT_SCALE = uuid16(0x181D)
SERVICE_PULSE_OXIMETER = uuid16(0x1822)

# Characteristics.
CHAR_DATE_TIME = uuid16(0x2A08)
CHAR_GLUCOSE_MEASUREMENT = uuid16(0x2A18)
CHAR_BATTERY_LEVEL = uuid16(0x2A19)
CHAR_TEMPERATURE_MEASUREMENT = uuid16(0x2A1C)
CHAR_TEMPERATURE_TYPE = uuid16(0x2A1D)
CHAR_CURRENT_TIME = uuid16(0x2A2B)
CHAR_GLUCOSE_CONTEXT = uuid16(0x2A34)
CHAR_BLOOD_PRESSURE_MEASUREMENT = uuid16(0x2A35)
CHAR_HEART_RATE_MEASUREMENT = uuid16(0x2A37)
CHAR_BODY_SENSOR_LOCATION = uuid16(0x2A38)
CHAR_BLOOD_PRESSURE_FEATURE = uuid16(0x2A49)
CHAR_GLUCOSE_FEATURE = uuid16(0x2A51)
CHAR_RACP = uuid16(0x2A52)
CHAR_PLX_SPOT_CHECK = uuid16(0x2A5E)
CHAR_PLX_CONTINUOUS = uuid16(0x2A5F)
CHAR_PLX_FEATURES = uuid16(0x2A60)
CHAR_WEIGHT_MEASUREMENT = uuid16(0x2A9D)
CHAR_WEIGHT_SCALE_FEATURE = uuid16(0x2A9E)
CHAR_MANUFACTURER_NAME = uuid16(0x2A29)
CHAR_MODEL_NUMBER = uuid16(0x2A24)
CHAR_FIRMWARE_REVISION = uuid16(0x2A26)

DEVICE_TIME = "device-time"
DEVICE_TIME_CORRECTED = "device-time-corrected"
DEVICE_TIME_UNKNOWN = "device-time-unknown"
DEVICE_TIME_INVALID = "device-time-invalid"
DEVICE_CLOCK_NOT_SET = "device-clock-not-set"

UNKNOWN_USER = 0xFF


class Reader:
    """A cursor over one characteristic value; running off the end is a CodecError."""

    def __init__(self, data: bytes, what: str) -> None:
        self.data = bytes(data)
        self.pos = 0
        self.what = what

    def _take(self, size: int, field: str) -> bytes:
        end = self.pos + size
        if end > len(self.data):
            raise CodecError(
                f"{self.what}: value truncated in {field} (needs {end} bytes, has {len(self.data)})"
            )
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def u8(self, field: str) -> int:
        return self._take(1, field)[0]

    def u16(self, field: str) -> int:
        return int(struct.unpack("<H", self._take(2, field))[0])

    def s16(self, field: str) -> int:
        return int(struct.unpack("<h", self._take(2, field))[0])

    def u24(self, field: str) -> int:
        return int.from_bytes(self._take(3, field), "little")

    def sfloat(self, field: str) -> MderNumber:
        return decode_sfloat(self.u16(field))

    def float32(self, field: str) -> MderNumber:
        return decode_float(int.from_bytes(self._take(4, field), "little"))

    def date_time(self, field: str) -> DeviceDateTime:
        return DeviceDateTime.parse(self._take(7, field))

    @property
    def remaining(self) -> int:
        return len(self.data) - self.pos


class DeviceDateTime:
    """A Date Time (0x2A08) field: naive device-local time, or why there is none."""

    __slots__ = ("problem", "value")

    def __init__(self, value: datetime | None, problem: str | None) -> None:
        self.value = value
        self.problem = problem

    @classmethod
    def parse(cls, raw: bytes) -> DeviceDateTime:
        year, month, day, hour, minute, second = struct.unpack("<HBBBBB", raw)
        if year == 0 or month == 0 or day == 0:
            return cls(None, DEVICE_TIME_UNKNOWN)  # GSS: 0 means "not known"
        try:
            return cls(datetime(year, month, day, hour, minute, second), None)
        except ValueError:
            return cls(None, DEVICE_TIME_INVALID)

    def shifted(self, minutes: int) -> DeviceDateTime:
        if self.value is None:
            return self
        try:
            return DeviceDateTime(self.value + timedelta(minutes=minutes), None)
        except OverflowError:
            return DeviceDateTime(None, DEVICE_TIME_INVALID)

    def stamp(self, context: DecodeContext) -> tuple[datetime, tuple[str, ...]]:
        """The observation time and its provenance flag (see module docstring)."""
        if self.value is None:
            return context.now(), (self.problem or DEVICE_TIME_UNKNOWN,)
        return self.value.replace(tzinfo=UTC), (DEVICE_TIME,)


def encode_date_time(moment: datetime) -> bytes:
    """Date Time wire bytes of a (naive or aware) datetime, for the simulators."""
    return struct.pack(
        "<HBBBBB",
        moment.year,
        moment.month,
        moment.day,
        moment.hour,
        moment.minute,
        moment.second,
    )


def encode_current_time(moment: datetime, adjust_reason: int = 0) -> bytes:
    """Current Time (0x2A2B) wire bytes: Date Time, day of week (1=Mon), fractions, reason."""
    fractions = moment.microsecond * 256 // 1_000_000
    return encode_date_time(moment) + bytes([moment.isoweekday(), fractions, adjust_reason])


def parse_device_clock(value: bytes) -> datetime:
    """Device 'now' from a Current Time (10 octets) or Date Time (7 octets) value.

    Raises CodecError when the value is short or the clock is not set.
    """
    if len(value) < 7:
        raise CodecError(f"device clock value too short ({len(value)} bytes)")
    parsed = DeviceDateTime.parse(bytes(value[:7]))
    if parsed.value is None:
        raise CodecError(f"device clock unusable: {parsed.problem}")
    moment = parsed.value
    if len(value) >= 9:  # Current Time: Fractions256 after the day of week
        moment += timedelta(microseconds=value[8] * 1_000_000 // 256)
    return moment


def clock_offset(device_now: datetime, gateway_now: datetime) -> timedelta:
    """How far to shift device-stamped times so they become UTC.

    ``device_now`` is the naive device clock read at ``gateway_now`` (aware). The
    offset folds the device's time zone and its drift into one number.
    """
    if gateway_now.tzinfo is None:
        raise ValueError("gateway_now must be timezone-aware")
    return gateway_now.astimezone(UTC).replace(tzinfo=None) - device_now.replace(tzinfo=None)


def apply_clock_offset(decoded: Decoded, offset: timedelta) -> Decoded:
    """Shift every device-stamped observation by ``offset`` and mark it corrected."""
    shifted: list[Observation] = []
    for obs in decoded.observations:
        if DEVICE_TIME in obs.flags:
            flags = tuple(DEVICE_TIME_CORRECTED if f == DEVICE_TIME else f for f in obs.flags)
            obs = obs.model_copy(update={"measured_at": obs.measured_at + offset, "flags": flags})
        shifted.append(obs)
    return replace(decoded, observations=tuple(shifted))


def pick_metric(context: DecodeContext, key: str, default: Metric) -> Metric:
    """The profile may rename a metric (``metric_map[key] = (code, name, ucum)``).

    Only the code and name are taken: the unit is what the device put on the wire
    (mmHg or kPa, kg or lb), and relabelling it would falsify the value.
    """
    override = context.metric_map.get(key)
    if override is None:
        return default
    return Metric(mdc_code=override[0], mdc_name=override[1])


def observe(
    context: DecodeContext,
    key: str,
    default: Metric,
    number: MderNumber | Decimal | None,
    unit: str,
    at: datetime,
    quality: Quality = Quality.VALID,
    flags: tuple[str, ...] = (),
    scale: Callable[[Decimal], Decimal] | None = None,
) -> Observation:
    """Build one observation, folding a special SFLOAT/FLOAT into value and quality."""
    value: float | None
    if isinstance(number, MderNumber):
        exact = number.decimal
        flags = flags + number.flags
        if number.special is not None:
            quality = number.quality
    else:
        exact = number
    if exact is None:
        value = None
        if quality is Quality.VALID:
            quality = Quality.UNAVAILABLE
    else:
        value = float(scale(exact) if scale else exact)
    return Observation(
        device_id=context.device_id,
        metric=pick_metric(context, key, default),
        value=value,
        unit=unit,
        measured_at=at,
        quality=quality,
        flags=_unique(flags),
    )


def _unique(flags: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(flags))


def worst(*qualities: Quality) -> Quality:
    """The least trustworthy of several qualities."""
    order = [Quality.VALID, Quality.QUESTIONABLE, Quality.INVALID, Quality.UNAVAILABLE]
    return max(qualities, key=order.index, default=Quality.VALID)


def bit_flags(
    value: int, table: Mapping[int, tuple[str, Quality]]
) -> tuple[tuple[str, ...], Quality]:
    """Flags and the resulting quality for the set bits of a status field."""
    flags: list[str] = []
    quality = Quality.VALID
    for bit, (label, bit_quality) in sorted(table.items()):
        if value & (1 << bit):
            flags.append(label)
            quality = worst(quality, bit_quality)
    return tuple(flags), quality


def user_patient(user_id: int | None) -> PatientContext | None:
    """A multi-user device's user index, kept as an identifier in the PHI type.

    The index is not PHI by itself, but it links readings to a person, so it never
    goes into flags or annotations; the redaction policy decides what it becomes.
    """
    if user_id is None or user_id == UNKNOWN_USER:
        return None
    return PatientContext(patient_id=f"ble-user-{user_id}", id_type="ble-user-index")


def fault_status(
    context: DecodeContext, error_codes: tuple[str, ...], at: datetime | None = None
) -> DeviceStatus | None:
    """A DeviceStatus carrying device faults, or None when there are none."""
    if not error_codes:
        return None
    return DeviceStatus(
        device_id=context.device_id,
        at=at or context.now(),
        connectivity=Connectivity.CONNECTED,
        error_codes=_unique(error_codes),
    )


class BleValueCodec(ValueCodec):
    """A ValueCodec for one GATT characteristic (or a small family of them).

    The BLE transport labels every value with the characteristic it came from
    (``Chunk.source``); ``decode_source`` routes on it, so a codec that reads two
    characteristics (glucose measurement and context) gets each value right.
    ``flush`` hands over anything held back waiting for a partner value.
    """

    characteristics: ClassVar[tuple[str, ...]]

    def decode_source(self, source: str, value: bytes) -> Decoded:
        if source and normalize_uuid(source) not in self.characteristics:
            raise CodecError(f"{self.name} does not decode characteristic {source}")
        return self.decode(value)

    def flush(self) -> Decoded:
        return Decoded()
