"""IEEE-11073 SFLOAT/FLOAT: spec vectors, special values, exact round trips.

Vectors: HL7 Personal Health Device FHIR IG, page "Mder FLOATs and SFLOATs"
(hl7.org/fhir/uv/phd, tables of SFLOAT and FLOAT examples and of the 5 special
values), which restates IEEE 11073-20601 MDER.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wardlink.codecs.ieee11073 import (
    MderNumber,
    Special,
    decode_float,
    decode_sfloat,
    encode_float,
    encode_sfloat,
    float_bytes,
    sfloat_bytes,
)
from wardlink.model import Quality

# (raw, exponent, mantissa, the exact text with the device's precision)
SFLOAT_VECTORS = [
    (0x0002, 0, 2, "2"),
    (0xF014, -1, 20, "2.0"),
    (0xE0C8, -2, 200, "2.00"),
    (0x1002, 1, 2, "2E+1"),
    (0x2002, 2, 2, "2E+2"),
    (0x00C8, 0, 200, "200"),
    (0x04D2, 0, 1234, "1234"),
    (0x0B2E, 0, -1234, "-1234"),
]
FLOAT_VECTORS = [
    (0x00000002, 0, 2, "2"),
    (0xFF000014, -1, 20, "2.0"),
    (0xFE0000C8, -2, 200, "2.00"),
    (0x01000002, 1, 2, "2E+1"),
    (0x02000002, 2, 2, "2E+2"),
    (0x000000C8, 0, 200, "200"),
    (0x000004D2, 0, 1234, "1234"),
    (0x00FFFB2E, 0, -1234, "-1234"),
]
SPECIALS = [
    (0x07FF, 0x007FFFFF, Special.NAN, Quality.UNAVAILABLE),
    (0x0800, 0x00800000, Special.NRES, Quality.UNAVAILABLE),
    (0x07FE, 0x007FFFFE, Special.POSITIVE_INFINITY, Quality.INVALID),
    (0x0802, 0x00800002, Special.NEGATIVE_INFINITY, Quality.INVALID),
    (0x0801, 0x00800001, Special.RESERVED, Quality.INVALID),
]


@pytest.mark.parametrize(("raw", "exponent", "mantissa", "text"), SFLOAT_VECTORS)
def test_sfloat_spec_vectors(raw: int, exponent: int, mantissa: int, text: str) -> None:
    number = decode_sfloat(raw)
    assert (number.exponent, number.mantissa) == (exponent, mantissa)
    assert str(number.decimal) == text  # precision kept: 2, 2.0 and 2.00 differ
    assert number.value == float(Decimal(text))
    assert encode_sfloat(Decimal(text)) == raw
    assert encode_sfloat(number) == raw


@pytest.mark.parametrize(("raw", "exponent", "mantissa", "text"), FLOAT_VECTORS)
def test_float_spec_vectors(raw: int, exponent: int, mantissa: int, text: str) -> None:
    number = decode_float(raw)
    assert (number.exponent, number.mantissa) == (exponent, mantissa)
    assert str(number.decimal) == text
    assert encode_float(Decimal(text)) == raw


@pytest.mark.parametrize(("sfloat", "float32", "special", "quality"), SPECIALS)
def test_special_values(sfloat: int, float32: int, special: Special, quality: Quality) -> None:
    for number in (decode_sfloat(sfloat), decode_float(float32)):
        assert number.special is special
        assert number.value is None and number.decimal is None
        assert number.quality is quality
        assert number.flags == (special.value,)
    assert encode_sfloat(special) == sfloat
    assert encode_float(special) == float32


def test_specials_only_exist_at_exponent_zero() -> None:
    # 0x17FF is 2047 * 10**1 under 20601, not NaN.
    assert decode_sfloat(0x17FF).decimal == Decimal(20470)
    assert decode_float(0x017FFFFF).decimal == Decimal(8388607) * 10


def test_little_endian_wire_bytes() -> None:
    assert sfloat_bytes(Decimal("2.0")) == bytes([0x14, 0xF0])
    assert float_bytes(Decimal("36.5")) == bytes([0x6D, 0x01, 0x00, 0xFF])


def test_exactness_where_binary_floats_fail() -> None:
    number = decode_float(encode_float(Decimal("0.1")))
    assert number.decimal == Decimal("0.1")
    assert decode_sfloat(encode_sfloat("-0.003")).decimal == Decimal("-0.003")


def test_encoder_refuses_what_it_cannot_carry_exactly() -> None:
    with pytest.raises(ValueError):
        encode_sfloat(Decimal("12345"))  # 5 significant digits > 12-bit mantissa
    with pytest.raises(ValueError):
        encode_sfloat(Decimal("1E-9"))  # exponent below -8
    with pytest.raises(ValueError):
        encode_sfloat(Decimal("Infinity"))
    with pytest.raises(ValueError):
        encode_sfloat(MderNumber(2046, 1))  # mantissa that naive decoders read as +INF
    assert decode_sfloat(encode_sfloat(Decimal("1E+9"))).decimal == Decimal("1E+9")
    assert decode_sfloat(encode_sfloat(Decimal("12340"))).decimal == Decimal("12340")


def test_every_sfloat_round_trips() -> None:
    """All 65536 bit patterns: decode, then encode back to the same bits."""
    for raw in range(0x10000):
        number = decode_sfloat(raw)
        if number.special is None and abs(number.mantissa) > 2045:
            with pytest.raises(ValueError):
                encode_sfloat(number)
            continue
        assert encode_sfloat(number) == raw
        if number.special is None and number.mantissa != 0:
            assert decode_sfloat(encode_sfloat(number.decimal or 0)).decimal == number.decimal


@settings(max_examples=500, deadline=None)
@given(st.integers(min_value=0, max_value=0xFFFFFFFF))
def test_float_round_trips(raw: int) -> None:
    number = decode_float(raw)
    if number.special is None and abs(number.mantissa) > (1 << 23) - 3:
        return
    assert encode_float(number) == raw
    if number.special is None:
        again = decode_float(encode_float(number.decimal or 0))
        assert again.decimal == number.decimal


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=-2045, max_value=2045), st.integers(min_value=-8, max_value=7))
def test_decimal_to_sfloat_and_back(mantissa: int, exponent: int) -> None:
    exact = Decimal(mantissa).scaleb(exponent)
    assert decode_sfloat(encode_sfloat(exact)).decimal == exact


def test_out_of_range_raw_values() -> None:
    with pytest.raises(ValueError):
        decode_sfloat(0x10000)
    with pytest.raises(ValueError):
        decode_float(-1)
