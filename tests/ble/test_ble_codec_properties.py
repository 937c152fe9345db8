"""Property tests: BLE codecs raise nothing but CodecError, and never hang.

Values are complete (a BLE notification is one value), so "resynchronisation"
means the next value decodes normally after a bad one - in particular the glucose
codec, which holds state between values.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wardlink.codecs import CodecError, DecodeContext, get_codec
from wardlink.codecs.ble_glucose import GlucoseMeasurementCodec

CTX = DecodeContext(device_id="prop.ble", now=lambda: datetime(2026, 11, 2, tzinfo=UTC))

VALID = {
    "ble:heart-rate-measurement": "1E 48 3412 2003",
    "ble:blood-pressure-measurement": "DEF6F416F3FF07E4070114082B00B2F2018000",
    "ble:temperature-measurement": "06 6D0100FF EA070B02081E00 06",
    "ble:plx-spot-check": "0F 6100 4800 EA070B02081E00 0040 008000 19F0",
    "ble:plx-continuous": "1F 6200 4600 6100 4700 6200 4500 8000 200000 19F0",
    "ble:weight-measurement": "0E B136 EA070B02081E00 01 E500 D606",
    "ble:glucose-measurement": "0B 0100 EA070B02081E00 FBFF 5FB0 11 2100",
}
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("name", sorted(VALID))
def test_every_truncation_is_a_codec_error(name: str) -> None:
    value = bytes.fromhex(VALID[name])
    codec = get_codec(name)(CTX)
    assert codec.decode(value).observations  # type: ignore[union-attr]
    for cut in range(len(value)):
        with pytest.raises(CodecError):
            codec.decode(value[:cut])  # type: ignore[union-attr]


@pytest.mark.parametrize("name", sorted(VALID))
@FAST
@given(data=st.binary(max_size=64))
def test_random_bytes_raise_only_codec_error(name: str, data: bytes) -> None:
    codec = get_codec(name)(CTX)
    try:
        codec.decode(data)  # type: ignore[union-attr]
    except CodecError:
        pass


@pytest.mark.parametrize("name", sorted(VALID))
@FAST
@given(flags=st.integers(0, 255), tail=st.binary(max_size=40))
def test_any_flags_over_plausible_bodies(name: str, flags: int, tail: bytes) -> None:
    body = bytes.fromhex(VALID[name])[1:] + tail
    try:
        get_codec(name)(CTX).decode(bytes([flags]) + body)  # type: ignore[union-attr]
    except CodecError:
        pass


@FAST
@given(values=st.lists(st.tuples(st.booleans(), st.binary(max_size=24)), max_size=12))
def test_glucose_state_survives_garbage(values: list[tuple[bool, bytes]]) -> None:
    codec = GlucoseMeasurementCodec(CTX)
    for is_context, data in values:
        try:
            if is_context:
                codec.decode_context(data)
            else:
                codec.decode(data)
        except CodecError:
            pass
    codec.flush()
    (obs,) = codec.decode(bytes.fromhex("02 0500 EA070B02081E00 5FB0 11")).observations
    assert obs.value == 95.0
