"""serial:astm-e1381 - E1381 framing and E1394 records.

Vectors follow the rules of ASTM E1381-02 section 6 (frame layout, FN 1..7,0,
checksum = sum FN..ETX mod 256 in two uppercase hex digits) and ASTM E1394-97 /
CLSI LIS2-A2 record layouts; checksums in hand-written frames were worked out
by hand from that rule, not by the code under test.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from wardlink.codecs.astm_e1381 import (
    ACK,
    ENQ,
    EOT,
    ETB,
    ETX,
    NAK,
    STX,
    AstmE1381Codec,
    UnmappedMetric,
    checksum,
    encode_frame,
    encode_records,
)
from wardlink.codecs.base import CodecEvent, DecodeContext, Decoded, FrameError, Reply
from wardlink.model import Quality

NOW = datetime(2026, 11, 5, 12, 0, tzinfo=UTC)
CTX = DecodeContext(device_id="poc-glucose-1", now=lambda: NOW)

HEADER = "H|\\^&|||AccuSim^2.1^SN1234|||||||P|LIS2-A2|20261105101500"
PATIENT = (
    "P|1|PRAC-000481|LAB-77||Quarterfield^Zebulon^K||19470312|M||"
    "41 Larkspur Lane^Fairhaven^MA^02719||508-555-0147|D0042^Okafor^Ada"
)
ORDER = "O|1|SPEC-99||^^^GLU|R||20261105100900"
RESULT = "R|1|^^^GLU|105|mg/dL|70 to 110|H||F||nurse1||20261105101200"
TERMINATOR = "L|1|N"


def transmission(records: list[str]) -> bytes:
    return bytes([ENQ]) + b"".join(encode_records(records)) + bytes([EOT])


def decoded(events: list[CodecEvent]) -> list[Decoded]:
    return [e for e in events if isinstance(e, Decoded)]


def replies(events: list[CodecEvent]) -> list[bytes]:
    return [e.data for e in events if isinstance(e, Reply)]


def errors(events: list[CodecEvent]) -> list[FrameError]:
    return [e for e in events if isinstance(e, FrameError)]


def test_checksum_vector_from_the_e1381_rule() -> None:
    # '1'+'H'+'|'+'\'+'^'+'&'+CR+ETX = 0x31+0x48+0x7C+0x5C+0x5E+0x26+0x0D+0x03 = 0x1E5
    assert checksum(b"1H|\\^&\r\x03") == b"E5"
    assert encode_frame(1, b"H|\\^&\r", final=True) == b"\x021H|\\^&\r\x03E5\r\n"
    # intermediate frame: '2'+'A'+ETB = 0x32+0x41+0x17 = 0x8A
    assert encode_frame(2, b"A", final=False) == b"\x022A\x178A\r\n"
    # FN is modulo 8: frame 8 is written '0'
    assert encode_frame(8, b"", final=True)[1:2] == b"0"


def test_hand_built_frames_decode() -> None:
    codec = AstmE1381Codec(CTX)
    frames = (
        b"\x05"
        + b"\x021H|\\^&\r\x03E5\r\n"
        + encode_frame(2, b"R|1|^^^GLU|5.8|mmol/L\r", final=True)
        + encode_frame(3, b"L|1\r", final=True)
        + b"\x04"
    )
    events = codec.feed(frames)
    assert replies(events) == [bytes([ACK])] * 4
    (message,) = decoded(events)
    (obs,) = message.observations
    assert obs.metric.mdc_code == 160184
    assert obs.value == 5.8
    assert obs.unit == "mmol/L"
    assert message.patient is None
    assert not errors(events)


def test_full_message_results_and_patient() -> None:
    codec = AstmE1381Codec(CTX)
    events = codec.feed(
        transmission([HEADER, PATIENT, ORDER, RESULT, "C|1|I|repeat test advised|G", TERMINATOR])
    )
    assert replies(events)[0] == bytes([ACK])
    assert all(r == bytes([ACK]) for r in replies(events))
    (message,) = decoded(events)
    (obs,) = message.observations
    assert obs.device_id == "poc-glucose-1"
    assert obs.metric.mdc_name == "MDC_CONC_GLU_CAPILLARY_WHOLEBLOOD"
    assert obs.value == 105.0
    assert obs.unit == "mg/dL"
    assert obs.measured_at == datetime(2026, 11, 5, 10, 12, tzinfo=UTC)
    assert obs.quality is Quality.VALID
    assert "high" in obs.flags
    assert "reference-range:70 to 110" in obs.flags
    assert obs.annotation == "repeat test advised"
    patient = message.patient
    assert patient is not None
    assert patient.patient_id == "PRAC-000481"
    assert patient.extra["laboratory_patient_id"] == "LAB-77"
    assert patient.family_name == "Quarterfield"
    assert patient.given_name == "Zebulon K"
    assert patient.birth_date == "1947-03-12"
    assert patient.sex == "M"
    assert patient.address == "41 Larkspur Lane, Fairhaven, MA, 02719"
    assert patient.phone == "508-555-0147"
    assert patient.attending == "D0042 Okafor Ada"
    assert patient.extra["specimen_id"] == "SPEC-99"
    # PHI only in the patient object, never in the observation
    for value in patient.values():
        assert value not in obs.model_dump_json()


def test_etb_continuation_joins_intermediate_frames() -> None:
    codec = AstmE1381Codec(CTX)
    data = (
        bytes([ENQ])
        + encode_frame(1, b"H|\\^&\r", final=True)
        + encode_frame(2, b"R|1|^^^GL", final=False)
        + encode_frame(3, b"U|88|mg/dL\r", final=True)
        + encode_frame(4, b"L|1\r", final=True)
        + bytes([EOT])
    )
    (message,) = decoded(codec.feed(data))
    assert message.observations[0].value == 88.0


def test_long_record_is_split_into_240_character_frames_and_rejoined() -> None:
    comment = "C|1|I|" + "x" * 600 + "|G"
    frames = encode_records([HEADER, RESULT, comment, TERMINATOR])
    assert any(frame[-5] == ETB for frame in frames)
    assert max(len(frame) for frame in frames) <= 247
    codec = AstmE1381Codec(CTX)
    (message,) = decoded(codec.feed(bytes([ENQ]) + b"".join(frames) + bytes([EOT])))
    assert message.observations[0].annotation == "x" * 600


def test_frame_numbers_wrap_from_7_to_0() -> None:
    results = [f"R|{i}|^^^GLU|{100 + i}|mg/dL" for i in range(1, 10)]
    records = [HEADER, *results, TERMINATOR]
    frames = encode_records(records)
    assert [f[1:2] for f in frames][:9] == [b"1", b"2", b"3", b"4", b"5", b"6", b"7", b"0", b"1"]
    codec = AstmE1381Codec(CTX)
    events = codec.feed(bytes([ENQ]) + b"".join(frames) + bytes([EOT]))
    assert not errors(events)
    (message,) = decoded(events)
    assert [o.value for o in message.observations] == [101.0 + i for i in range(9)]


def test_bad_checksum_is_naked_and_the_retransmission_accepted() -> None:
    codec = AstmE1381Codec(CTX)
    good = encode_frame(1, b"H|\\^&\r", final=True)
    bad = good[:-4] + b"00\r\n"
    assert replies(codec.feed(bytes([ENQ]))) == [bytes([ACK])]
    events = codec.feed(bad)
    assert replies(events) == [bytes([NAK])]
    assert errors(events)[0].reason == "checksum mismatch"
    assert replies(codec.feed(good)) == [bytes([ACK])]
    rest = encode_records([RESULT, TERMINATOR], first_number=2)
    (message,) = decoded(codec.feed(b"".join(rest)))
    assert message.observations[0].value == 105.0


def test_wrong_frame_number_is_naked() -> None:
    codec = AstmE1381Codec(CTX)
    codec.feed(bytes([ENQ]))
    events = codec.feed(encode_frame(3, b"H|\\^&\r", final=True))
    assert replies(events) == [bytes([NAK])]
    assert "out of sequence" in errors(events)[0].reason


def test_invalid_frame_number_is_naked() -> None:
    codec = AstmE1381Codec(CTX)
    codec.feed(bytes([ENQ]))
    body = b"9H|\\^&\r\x03"
    events = codec.feed(b"\x02" + body + checksum(body) + b"\r\n")
    assert replies(events) == [bytes([NAK])]
    assert errors(events)[0].reason == "invalid frame number"


def test_duplicate_frame_is_acked_and_discarded() -> None:
    codec = AstmE1381Codec(CTX)
    frames = encode_records([HEADER, RESULT, TERMINATOR])
    events = codec.feed(bytes([ENQ]) + frames[0] + frames[1] + frames[1] + frames[2] + b"\x04")
    assert replies(events) == [bytes([ACK])] * 5
    assert not errors(events)
    (message,) = decoded(events)
    assert len(message.observations) == 1


def test_busy_receiver_naks_enq_and_accepts_later() -> None:
    codec = AstmE1381Codec(CTX)
    codec.set_busy(True)
    assert replies(codec.feed(bytes([ENQ]))) == [bytes([NAK])]
    # frames sent without an accepted ENQ are ignored, not decoded
    events = codec.feed(b"".join(encode_records([HEADER, RESULT, TERMINATOR])))
    assert not decoded(events)
    codec.set_busy(False)
    assert decoded(codec.feed(transmission([HEADER, RESULT, TERMINATOR])))


def test_eot_before_terminator_discards_the_message() -> None:
    codec = AstmE1381Codec(CTX)
    events = codec.feed(transmission([HEADER, PATIENT, RESULT]))
    assert not decoded(events)
    assert "before the message terminator" in errors(events)[-1].reason


def test_new_enq_restarts_a_broken_transmission() -> None:
    codec = AstmE1381Codec(CTX)
    first = encode_records([HEADER, PATIENT])
    codec.feed(bytes([ENQ]) + b"".join(first) + b"\x021R|1|^^^GL")  # cut mid-frame
    events = codec.feed(transmission([HEADER, RESULT, TERMINATOR]))
    assert len(decoded(events)) == 1
    assert errors(events)  # the abandoned frame and message were reported


def test_unmapped_test_code_is_reported_not_decoded() -> None:
    codec = AstmE1381Codec(CTX)
    events = codec.feed(transmission([HEADER, "R|1|^^^LACT|1.9|mmol/L", RESULT, TERMINATOR]))
    (unmapped,) = [e for e in events if isinstance(e, UnmappedMetric)]
    assert unmapped.key == "LACT"
    assert unmapped.unit == "mmol/L"
    assert isinstance(unmapped, FrameError)
    (message,) = decoded(events)
    assert [o.metric.mdc_code for o in message.observations] == [160184]


def test_profile_metric_map_maps_local_codes() -> None:
    ctx = DecodeContext(
        device_id="lab-1",
        now=lambda: NOW,
        metric_map={
            "LACT": (160300, "MDC_CONC_LACT_GEN", "mmol/L"),
            "GLU": (160196, "MDC_CONC_GLU_VENOUS_PLASMA", "mg/dL"),
        },
    )
    codec = AstmE1381Codec(ctx)
    (message,) = decoded(codec.feed(transmission([HEADER, "R|1|^^^LACT|1.9|", RESULT, TERMINATOR])))
    lact, glu = message.observations
    assert (lact.metric.mdc_code, lact.unit, lact.value) == (160300, "mmol/L", 1.9)
    assert glu.metric.mdc_name == "MDC_CONC_GLU_VENOUS_PLASMA"


@pytest.mark.parametrize(
    ("result", "value", "quality", "flag"),
    [
        ("R|1|^^^GLU|>600|mg/dL||>||F", 600.0, Quality.INVALID, "above-measuring-range"),
        ("R|1|^^^GLU|HI|mg/dL||||F", None, Quality.INVALID, "above-measuring-range"),
        ("R|1|^^^GLU|<20|mg/dL||<||F", 20.0, Quality.INVALID, "below-measuring-range"),
        ("R|1|^^^GLU||||||X", None, Quality.UNAVAILABLE, "not-performed"),
        ("R|1|^^^GLU|140|mg/dL||HH||P", 140.0, Quality.QUESTIONABLE, "preliminary"),
        ("R|1|^^^GLU|140|mg/dL||HH||C", 140.0, Quality.VALID, "corrected"),
    ],
)
def test_result_status_and_flags(
    result: str, value: float | None, quality: Quality, flag: str
) -> None:
    codec = AstmE1381Codec(CTX)
    (message,) = decoded(codec.feed(transmission([HEADER, result, TERMINATOR])))
    (obs,) = message.observations
    assert obs.value == value
    assert obs.quality is quality
    assert flag in obs.flags


def test_escape_sequences_and_custom_delimiters() -> None:
    codec = AstmE1381Codec(CTX)
    records = [
        "H!@#$",  # field !, repeat @, component #, escape $
        "P!1!ID$F$7!!!Smith$S$Jones#Ann",
        "R!1!###GLU!99!mg/dL",
        "L!1",
    ]
    (message,) = decoded(codec.feed(transmission(records)))
    assert message.patient is not None
    assert message.patient.patient_id == "ID!7"
    assert message.patient.family_name == "Smith#Jones"
    assert message.observations[0].value == 99.0


def test_two_patients_give_two_decoded_groups() -> None:
    codec = AstmE1381Codec(CTX)
    records = [
        HEADER,
        "P|1|A1",
        "R|1|^^^GLU|90|mg/dL",
        "P|2|B2",
        "R|1|^^^GLU|180|mg/dL",
        TERMINATOR,
    ]
    first, second = decoded(codec.feed(transmission(records)))
    assert first.patient is not None and first.patient.patient_id == "A1"
    assert second.patient is not None and second.patient.patient_id == "B2"
    assert [first.observations[0].value, second.observations[0].value] == [90.0, 180.0]


def test_quality_control_messages_are_flagged() -> None:
    codec = AstmE1381Codec(CTX)
    header = "H|\\^&|||AccuSim|||||||Q|LIS2-A2|20261105101500"
    (message,) = decoded(codec.feed(transmission([header, RESULT, TERMINATOR])))
    assert "quality-control" in message.observations[0].flags


def test_timestamp_falls_back_to_header_then_clock() -> None:
    codec = AstmE1381Codec(CTX)
    (message,) = decoded(codec.feed(transmission([HEADER, "R|1|^^^GLU|99|mg/dL", TERMINATOR])))
    assert message.observations[0].measured_at == datetime(2026, 11, 5, 10, 15, tzinfo=UTC)
    (message,) = decoded(codec.feed(transmission(["H|\\^&", "R|1|^^^GLU|99|mg/dL", "L|1"])))
    assert message.observations[0].measured_at == NOW


def test_byte_by_byte_feeding_gives_the_same_events() -> None:
    data = transmission([HEADER, PATIENT, ORDER, RESULT, TERMINATOR])
    whole = AstmE1381Codec(CTX).feed(data)
    codec = AstmE1381Codec(CTX)
    pieces: list[CodecEvent] = []
    for index in range(len(data)):
        pieces.extend(codec.feed(data[index : index + 1]))
    assert [type(e) for e in pieces] == [type(e) for e in whole]
    assert decoded(pieces)[0].observations == decoded(whole)[0].observations


def test_noise_outside_a_transmission_is_reported_once_per_chunk() -> None:
    codec = AstmE1381Codec(CTX)
    events = codec.feed(b"\xff\x00garbage")
    assert [e.reason for e in errors(events)] == ["ignored 9 bytes outside a frame"]
    assert not replies(events)


def test_reset_forgets_a_partial_transmission() -> None:
    codec = AstmE1381Codec(CTX)
    codec.feed(bytes([ENQ]) + encode_records([HEADER])[0])
    codec.reset()
    events = codec.feed(encode_records([RESULT, TERMINATOR], first_number=2)[0])
    assert not decoded(events)
    assert not replies(events)


def test_constants_match_the_standard() -> None:
    assert (STX, ETX, EOT, ENQ, ACK, NAK, ETB) == (0x02, 0x03, 0x04, 0x05, 0x06, 0x15, 0x17)
