"""IEEE 11073-20601 SFLOAT (16-bit) and FLOAT (32-bit) numbers, decoded exactly.

Both are base-10 floating point: a signed exponent and a signed mantissa, each in
two's complement, value = mantissa * 10**exponent. The exponent carries the
device's *precision*: 0xF014 (20e-1) is "2.0" and 0xE0C8 (200e-2) is "2.00". We
keep that by decoding to a ``decimal.Decimal`` built from the digits and the
exponent (never through a binary float), and offer a float only for convenience.

Layouts (IEEE 11073-20601 MDER; Bluetooth GSS "medfloat16"/"medfloat32"):

* SFLOAT: bits 15..12 exponent (signed 4-bit), bits 11..0 mantissa (signed 12-bit).
* FLOAT: bits 31..24 exponent (signed 8-bit), bits 23..0 mantissa (signed 24-bit).

Special values exist only with exponent 0 (20601 defines them as "exponent 0,
mantissa +(2^11-1)" etc., quoted e.g. in mrozycki/healthpi issue 6; the HL7 PHD
FHIR IG page "Mder FLOATs and SFLOATs" lists the same table):

========  ==========  ===========================  ===========================
SFLOAT    FLOAT       meaning                      Wardlink
========  ==========  ===========================  ===========================
0x07FF    0x007FFFFF  NaN (not a number)           value None, unavailable, "NaN"
0x0800    0x00800000  NRes (not at this res.)      value None, unavailable, "NRes"
0x07FE    0x007FFFFE  +INFINITY                    value None, invalid, "+INF"
0x0802    0x00800002  -INFINITY                    value None, invalid, "-INF"
0x0801    0x00800001  reserved for future use      value None, invalid, "RFU"
========  ==========  ===========================  ===========================

Why ±INF becomes ``None`` and not ``float("inf")``: observations travel as JSON,
which has no infinity, and a clinical "beyond range" is not a number anyone should
average. The direction survives in the flag, the quality says "invalid".

The encoder (used by the simulators) refuses to produce a mantissa of +-2046..2048
with a non-zero exponent even though 20601 allows it, because many decoders in the
field treat those mantissas as specials regardless of the exponent.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from wardlink.model import Quality


class Special(StrEnum):
    """The reserved non-numbers. The string value is the observation flag."""

    NAN = "NaN"
    NRES = "NRes"
    POSITIVE_INFINITY = "+INF"
    NEGATIVE_INFINITY = "-INF"
    RESERVED = "RFU"


_SPECIAL_QUALITY: dict[Special, Quality] = {
    Special.NAN: Quality.UNAVAILABLE,
    Special.NRES: Quality.UNAVAILABLE,
    Special.POSITIVE_INFINITY: Quality.INVALID,
    Special.NEGATIVE_INFINITY: Quality.INVALID,
    Special.RESERVED: Quality.INVALID,
}

# Mantissa (at exponent 0) of each special value, per width.
_SFLOAT_SPECIALS: dict[int, Special] = {
    0x07FF: Special.NAN,
    0x0800: Special.NRES,
    0x07FE: Special.POSITIVE_INFINITY,
    0x0802: Special.NEGATIVE_INFINITY,
    0x0801: Special.RESERVED,
}
_FLOAT_SPECIALS: dict[int, Special] = {
    0x007FFFFF: Special.NAN,
    0x00800000: Special.NRES,
    0x007FFFFE: Special.POSITIVE_INFINITY,
    0x00800002: Special.NEGATIVE_INFINITY,
    0x00800001: Special.RESERVED,
}


@dataclass(frozen=True)
class _Format:
    name: str
    exponent_bits: int
    mantissa_bits: int
    specials: dict[int, Special]

    @property
    def raw_bits(self) -> int:
        return self.exponent_bits + self.mantissa_bits

    @property
    def mantissa_limit(self) -> int:
        """Largest magnitude the encoder uses: below every special's mantissa."""
        return (1 << (self.mantissa_bits - 1)) - 3

    @property
    def exponent_range(self) -> tuple[int, int]:
        half = 1 << (self.exponent_bits - 1)
        return -half, half - 1


SFLOAT = _Format("SFLOAT", 4, 12, _SFLOAT_SPECIALS)
FLOAT = _Format("FLOAT", 8, 24, _FLOAT_SPECIALS)


@dataclass(frozen=True)
class MderNumber:
    """One decoded SFLOAT/FLOAT: mantissa and exponent, or a special value."""

    mantissa: int = 0
    exponent: int = 0
    special: Special | None = None

    @property
    def decimal(self) -> Decimal | None:
        """The exact value with the device's precision (``Decimal('2.00')``), or None."""
        if self.special is not None:
            return None
        sign = 1 if self.mantissa < 0 else 0
        digits = tuple(int(d) for d in str(abs(self.mantissa)))
        return Decimal((sign, digits, self.exponent))

    @property
    def value(self) -> float | None:
        """Nearest float of the exact value; None for every special."""
        exact = self.decimal
        return None if exact is None else float(exact)

    @property
    def quality(self) -> Quality:
        return Quality.VALID if self.special is None else _SPECIAL_QUALITY[self.special]

    @property
    def flags(self) -> tuple[str, ...]:
        return () if self.special is None else (self.special.value,)


def _signed(raw: int, bits: int) -> int:
    return raw - (1 << bits) if raw & (1 << (bits - 1)) else raw


def _decode(raw: int, fmt: _Format) -> MderNumber:
    if not 0 <= raw < (1 << fmt.raw_bits):
        raise ValueError(f"{fmt.name} raw value out of range: {raw:#x}")
    special = fmt.specials.get(raw)
    if special is not None:
        return MderNumber(special=special)
    mantissa = _signed(raw & ((1 << fmt.mantissa_bits) - 1), fmt.mantissa_bits)
    exponent = _signed(raw >> fmt.mantissa_bits, fmt.exponent_bits)
    return MderNumber(mantissa, exponent)


def decode_sfloat(raw: int) -> MderNumber:
    """Decode a 16-bit SFLOAT given as an unsigned integer (already byte-swapped)."""
    return _decode(raw, SFLOAT)


def decode_float(raw: int) -> MderNumber:
    """Decode a 32-bit FLOAT given as an unsigned integer (already byte-swapped)."""
    return _decode(raw, FLOAT)


def _pack(mantissa: int, exponent: int, fmt: _Format) -> int:
    low, high = fmt.exponent_range
    if not low <= exponent <= high or abs(mantissa) > fmt.mantissa_limit:
        raise ValueError(f"{mantissa}e{exponent} does not fit a {fmt.name}")
    mask = (1 << fmt.mantissa_bits) - 1
    return ((exponent & ((1 << fmt.exponent_bits) - 1)) << fmt.mantissa_bits) | (mantissa & mask)


def _fit(mantissa: int, exponent: int, fmt: _Format) -> tuple[int, int]:
    """Move the decimal point, losslessly only, until the pair fits the format."""
    low, high = fmt.exponent_range
    while exponent < low and mantissa % 10 == 0 and mantissa != 0:
        mantissa //= 10
        exponent += 1
    while abs(mantissa) > fmt.mantissa_limit and mantissa % 10 == 0:
        mantissa //= 10
        exponent += 1
    while exponent > high and abs(mantissa * 10) <= fmt.mantissa_limit:
        mantissa *= 10
        exponent -= 1
    if mantissa == 0:
        exponent = min(max(exponent, low), high)
    return mantissa, exponent


NumberLike = MderNumber | Special | Decimal | int | str
"""Anything the encoders take: a decoded number, a special, or an exact decimal."""


def _encode(value: NumberLike, fmt: _Format) -> int:
    if isinstance(value, Special):
        return next(raw for raw, special in fmt.specials.items() if special is value)
    if isinstance(value, MderNumber):
        if value.special is not None:
            return _encode(value.special, fmt)
        return _pack(value.mantissa, value.exponent, fmt)
    number = Decimal(value)
    if not number.is_finite():
        raise ValueError(f"use Special for non-finite values, not {value!r}")
    sign, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)
    mantissa = int("".join(map(str, digits))) * (-1 if sign else 1)
    mantissa, exponent = _fit(mantissa, exponent, fmt)
    return _pack(mantissa, exponent, fmt)


def encode_sfloat(value: NumberLike) -> int:
    """Encode exactly; the precision of a Decimal is kept (``Decimal('2.0')`` -> 0xF014).

    Raises ValueError if the value cannot be represented without rounding.
    """
    return _encode(value, SFLOAT)


def encode_float(value: NumberLike) -> int:
    """Encode exactly as a 32-bit FLOAT; see ``encode_sfloat``."""
    return _encode(value, FLOAT)


def sfloat_bytes(value: NumberLike) -> bytes:
    """Little-endian wire bytes of an SFLOAT (GATT values are little-endian)."""
    return encode_sfloat(value).to_bytes(2, "little")


def float_bytes(value: NumberLike) -> bytes:
    """Little-endian wire bytes of a FLOAT."""
    return encode_float(value).to_bytes(4, "little")
