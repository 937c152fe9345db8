"""Nonin sensor faults become device status (error codes), once when they start and end."""

from __future__ import annotations

from wardlink.codecs import DecodeContext, Decoded, get_codec
from wardlink.codecs.nonin2 import encode_packet

SENSOR_DISCONNECTED = 0x40


def test_sensor_fault_is_reported_once_and_cleared() -> None:
    codec = get_codec("serial:nonin-2")(DecodeContext("bed-1"))
    stream = (
        encode_packet(72, 97)
        + encode_packet(511, 127, status=SENSOR_DISCONNECTED)
        + encode_packet(511, 127, status=SENSOR_DISCONNECTED)
        + encode_packet(73, 97)
    )
    events = [e for e in codec.feed(stream) if isinstance(e, Decoded)]  # type: ignore[union-attr]
    statuses = [e.status for e in events if e.status is not None]
    assert [s.error_codes for s in statuses] == [("NONIN-SNSD",), ()]
    assert events[1].observations[0].value is None  # the reading itself is 'missing'
