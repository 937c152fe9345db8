"""serial:nonin-2 - Nonin OEM III serial data format #2.

Frames are built here by hand from the format description (5 bytes: 0x01, STATUS
with bit 7 set and SYNC in bit 0 of the first frame, PLETH, DATA, CHK = sum of
the first four mod 256; DATA of frames 1-3: HR bits 7-8, HR bits 0-6, SpO2;
missing values HR 511 and SpO2 127), independently of ``encode_packet``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from wardlink.codecs.base import DecodeContext, Decoded, FrameError
from wardlink.codecs.nonin2 import Nonin2Codec, encode_packet
from wardlink.model import Quality

NOW = datetime(2026, 11, 5, 12, 0, tzinfo=UTC)
CTX = DecodeContext(device_id="oxi-1", now=lambda: NOW)


def frame(status: int, pleth: int, data: int) -> bytes:
    return bytes([0x01, status, pleth, data, (0x01 + status + pleth + data) & 0xFF])


def packet(hr_msb: int, hr_lsb: int, spo2: int, status: int = 0x80) -> bytes:
    frames = [
        frame(status | 0x01, 0x40, hr_msb),
        frame(status, 0x40, hr_lsb),
        frame(status, 0x40, spo2),
    ]
    frames += [frame(status, 0x40, 0x00) for _ in range(22)]
    return b"".join(frames)


def test_hand_built_frames_match_the_spec_arithmetic() -> None:
    # HR 72, SpO2 97: the first three frames with their checksums worked out by hand
    data = packet(0x00, 0x48, 0x61)
    assert data[:15] == bytes.fromhex("018140 00 c2 018040 48 09 018040 61 22".replace(" ", ""))
    assert encode_packet(72, 97, pleth=0x40, firmware_rev=0) == data


def test_decodes_heart_rate_and_spo2() -> None:
    (event,) = Nonin2Codec(CTX).feed(packet(0x00, 0x48, 0x61))
    assert isinstance(event, Decoded)
    hr, spo2 = event.observations
    assert (hr.metric.mdc_code, hr.value, hr.unit) == (149530, 72.0, "/min")
    assert (spo2.metric.mdc_code, spo2.value, spo2.unit) == (150456, 97.0, "%")
    assert hr.quality is Quality.VALID and hr.measured_at == NOW
    assert event.patient is None


def test_heart_rate_above_127_uses_the_msb_frame() -> None:
    (event,) = Nonin2Codec(CTX).feed(packet(0x01, 200 & 0x7F, 95))
    assert isinstance(event, Decoded)
    assert event.observations[0].value == 200.0


def test_missing_data_markers_become_unavailable() -> None:
    (event,) = Nonin2Codec(CTX).feed(packet(0x03, 0x7F, 0x7F))
    assert isinstance(event, Decoded)
    for obs in event.observations:
        assert obs.value is None
        assert obs.quality is Quality.UNAVAILABLE


def test_status_flags_make_values_questionable() -> None:
    (event,) = Nonin2Codec(CTX).feed(packet(0x00, 0x48, 0x61, status=0x80 | 0x20 | 0x06))
    assert isinstance(event, Decoded)
    hr = event.observations[0]
    assert hr.quality is Quality.QUESTIONABLE
    assert "artifact" in hr.flags
    assert "perfusion-low" in hr.flags


def test_bad_checksum_drops_the_packet_and_the_next_one_decodes() -> None:
    bad = bytearray(packet(0x00, 0x48, 0x61))
    bad[14] ^= 0xFF  # checksum of frame 3
    events = Nonin2Codec(CTX).feed(bytes(bad) + encode_packet(80, 96))
    assert any(isinstance(e, FrameError) for e in events)
    decoded = [e for e in events if isinstance(e, Decoded)]
    assert [o.value for o in decoded[-1].observations] == [80.0, 96.0]


def test_noise_that_looks_like_sync_overlapping_a_packet_does_not_hide_it() -> None:
    # 01 81 FE + the packet's first two bytes (01 81) form a valid SYNC frame
    # (0x01 + 0x81 + 0xFE + 0x01 = 0x181 -> 0x81). The frames after it are misaligned
    # and bad, so the hunt must restart one byte later, not one frame later (the
    # codec skipped whole frames here before review and lost the real packet).
    real = encode_packet(66, 99)
    assert real[:2] == b"\x01\x81"
    events = Nonin2Codec(CTX).feed(b"\x01\x81\xfe" + real)
    decoded = [e for e in events if isinstance(e, Decoded)]
    assert len(decoded) == 1
    assert [o.value for o in decoded[0].observations] == [66.0, 99.0]


def test_split_feeding_and_stream_of_packets() -> None:
    stream = b"".join(encode_packet(60 + i, 90 + i) for i in range(5))
    codec = Nonin2Codec(CTX)
    events = []
    for i in range(0, len(stream), 7):
        events += codec.feed(stream[i : i + 7])
    values = [[o.value for o in e.observations] for e in events if isinstance(e, Decoded)]
    assert values == [[60.0 + i, 90.0 + i] for i in range(5)]
    assert not [e for e in events if isinstance(e, FrameError)]
