"""serial:hl7-mllp / tcp:hl7-mllp - MLLP framing, IHE PCD-01 ORU^R01, ACK^R01.

The ORU vector follows the shape of the IHE PCD TF-2 PCD-01 examples (MDS/VMD/
channel header OBX rows with no value, then numeric metric rows coded
``code^MDC_REF_ID^MDC`` with MDC-coded units and an EUI-64 in OBX-18); patient data
is invented.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from wardlink.codecs._mdc_units import ucum_for_mdc, ucum_for_text
from wardlink.codecs._mllp import MllpFramer
from wardlink.codecs.base import CodecEvent, DecodeContext, Decoded, FrameError, Reply
from wardlink.codecs.hl7_mllp import (
    Hl7MllpCodec,
    Hl7MllpTcpCodec,
    UnmappedMetric,
    read_msh,
    wrap,
)
from wardlink.codecs.registry import get_codec
from wardlink.model import Quality

NOW = datetime(2026, 11, 5, 12, 0, tzinfo=UTC)
CTX = DecodeContext(device_id="bedside-7", now=lambda: NOW)

ORU = (
    "\r".join(
        [
            "MSH|^~\\&|SimMonitor^0A1B2C3D4E5F6071^EUI-64||||20261105101500+0000||ORU^R01^ORU_R01"
            "|MSG-0001|P|2.6|||NE|AL||||||IHE PCD ORU-R01 2006^HL7^2.16.840.1.113883.9.n.m^HL7",
            "PID|||MRN-55501^^^Fairhaven General^MR~123-45-6789^^^SSA^SS||Quarterfield^Zebulon^K"
            "||19470312|M|||41 Larkspur Lane^^Fairhaven^MA^02719||^PRN^PH^^1^508^5550147"
            "|||||ACCT-9912",
            "NK1|1|Quarterfield^Imogen|SPO^Spouse^HL70063|41 Larkspur Lane^^Fairhaven^MA^02719"
            "|^PRN^PH^^1^508^5550148",
            "PV1||I|ICU^12^B^Fairhaven General||||D0042^Okafor^Ada||||||||||||V-0001",
            "OBR|1|||182777000^monitoring of patient^SNOMED-CT|||20261105101500+0000",
            "OBX|1||69965^MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS^MDC|1.0.0.0|||||||X",
            "OBX|2||69642^MDC_DEV_ANALY_SAT_O2_VMD^MDC|1.1.0.0|||||||X",
            "OBX|3|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.1.1.1|97|262688^MDC_DIM_PERCENT^MDC"
            "|90-100||||R|||20261105101455+0000||||0A1B2C3D4E5F6071^EUI-64",
            "OBX|4|NM|149530^MDC_PULS_OXIM_PULS_RATE^MDC|1.1.1.2|72|264864^MDC_DIM_BEAT_PER_MIN^MDC"
            "|||||R|||20261105101455+0000",
            "OBX|5|NM|150021^MDC_PRESS_BLD_NONINV_SYS^MDC|1.2.1.1|128|266016^MDC_DIM_MMHG^MDC|"
            "|H|||R",
            "OBX|6|NM|150364^MDC_TEMP_BODY^MDC|1.3.1.1|37.2|268192^MDC_DIM_DEGC^MDC|||||R"
            "|||20261105-0500",
        ]
    )
    + "\r"
)


def decoded(events: list[CodecEvent]) -> list[Decoded]:
    return [e for e in events if isinstance(e, Decoded)]


def acks(events: list[CodecEvent]) -> list[str]:
    out = []
    for event in events:
        if isinstance(event, Reply):
            assert event.data.startswith(b"\x0b") and event.data.endswith(b"\x1c\r")
            out.append(event.data[1:-2].decode())
    return out


def msa(ack: str) -> list[str]:
    segment = next(s for s in ack.split("\r") if s.startswith("MSA|"))
    return segment.split("|")


def test_both_names_are_registered() -> None:
    assert get_codec("serial:hl7-mllp") is Hl7MllpCodec
    assert get_codec("tcp:hl7-mllp") is Hl7MllpTcpCodec


def test_pcd01_observations_units_and_times() -> None:
    events = Hl7MllpCodec(CTX).feed(wrap(ORU.encode()))
    (message,) = decoded(events)
    by_name = {o.metric.mdc_name: o for o in message.observations}
    assert set(by_name) == {
        "MDC_PULS_OXIM_SAT_O2",
        "MDC_PULS_OXIM_PULS_RATE",
        "MDC_PRESS_BLD_NONINV_SYS",
        "MDC_TEMP_BODY",
    }
    spo2 = by_name["MDC_PULS_OXIM_SAT_O2"]
    assert (spo2.metric.mdc_code, spo2.value, spo2.unit) == (150456, 97.0, "%")
    assert spo2.measured_at == datetime(2026, 11, 5, 10, 14, 55, tzinfo=UTC)
    assert spo2.device_id == "bedside-7"
    assert by_name["MDC_PULS_OXIM_PULS_RATE"].unit == "/min"
    nibp = by_name["MDC_PRESS_BLD_NONINV_SYS"]
    assert (nibp.value, nibp.unit, nibp.flags) == (128.0, "mm[Hg]", ("high",))
    # no OBX-14: OBR-7
    assert nibp.measured_at == datetime(2026, 11, 5, 10, 15, tzinfo=UTC)
    temp = by_name["MDC_TEMP_BODY"]
    assert temp.unit == "Cel"
    # date with an offset: 2026-11-05 00:00 -05:00 is 05:00 UTC
    assert temp.measured_at == datetime(2026, 11, 5, 5, 0, tzinfo=UTC)
    (ack,) = acks(events)
    assert msa(ack)[:3] == ["MSA", "AA", "MSG-0001"]
    # the ACK answers the sender: its MSH-5 is the device's MSH-3
    assert ack.split("\r")[0].split("|")[4] == "SimMonitor^0A1B2C3D4E5F6071^EUI-64"
    assert "ACK^R01^ACK" in ack
    # the ACK comes after the data, so a pipeline stores before it acknowledges
    assert isinstance(events[-1], Reply)


def test_pid_nk1_pv1_become_the_patient_context() -> None:
    (message,) = decoded(Hl7MllpCodec(CTX).feed(wrap(ORU.encode())))
    patient = message.patient
    assert patient is not None
    assert (patient.patient_id, patient.id_type) == ("MRN-55501", "MR")
    assert patient.ssn == "123-45-6789"
    assert (patient.family_name, patient.given_name) == ("Quarterfield", "Zebulon K")
    assert patient.birth_date == "1947-03-12"
    assert patient.sex == "M"
    assert patient.address == "41 Larkspur Lane, Fairhaven, MA, 02719"
    assert patient.phone == "1 508 5550147"
    assert patient.account_number == "ACCT-9912"
    assert patient.location == "ICU 12 B Fairhaven General"
    assert patient.attending == "D0042 Okafor Ada"
    assert patient.extra["visit_number"] == "V-0001"
    (relative,) = patient.related
    assert relative.relationship == "Spouse"
    assert relative.name == "Imogen Quarterfield"
    assert relative.phone == "1 508 5550148"
    # nothing identifying leaks into the observations
    for obs in message.observations:
        dumped = obs.model_dump_json()
        for value in patient.values():
            assert value not in dumped
        assert "0A1B2C3D4E5F6071" not in dumped  # OBX-18 EUI-64 is not copied


def test_not_hl7_is_rejected_with_ar() -> None:
    events = Hl7MllpCodec(CTX).feed(wrap(b"hello, not hl7"))
    (ack,) = acks(events)
    assert msa(ack)[:3] == ["MSA", "AR", ""]
    assert "ERR|||100^" in ack
    assert any(isinstance(e, FrameError) for e in events)
    assert not decoded(events)


def test_unsupported_message_type_is_rejected_with_ar() -> None:
    adt = "MSH|^~\\&|ADT|H|||20261105||ADT^A01^ADT_A01|ADT-9|P|2.5\rPID|||X^^^H^MR\r"
    events = Hl7MllpCodec(CTX).feed(wrap(adt.encode()))
    (ack,) = acks(events)
    assert msa(ack)[:3] == ["MSA", "AR", "ADT-9"]
    assert "200^Unsupported message type" in ack
    assert "ACK^A01^ACK" in ack
    assert not decoded(events)


def test_unparseable_oru_gets_ae_and_a_frame_error() -> None:
    broken = "MSH|^~~^|A|B|C|D|20240101||ORU^R01|X-77|P|2.6\rOBX|1|NM|1^MDC_X^MDC||1\r"
    events = Hl7MllpCodec(CTX).feed(wrap(broken.encode()))
    (ack,) = acks(events)
    assert msa(ack)[:3] == ["MSA", "AE", "X-77"]
    (error,) = [e for e in events if isinstance(e, FrameError)]
    assert "could not be processed" in error.reason
    assert "OBX" not in error.reason  # the reason never quotes message content


def test_a_message_cut_inside_a_segment_is_not_read() -> None:
    cut = ORU[: ORU.index("Quarterfield") + 5]  # "...||Quart" then an end block
    events = Hl7MllpCodec(CTX).feed(wrap(cut.encode()))
    (ack,) = acks(events)
    assert msa(ack)[:3] == ["MSA", "AE", "MSG-0001"]
    assert "not terminated" in ack
    assert not decoded(events)
    # cut exactly at a segment end: what arrived is whole and is read
    whole_segments = ORU[: ORU.index("OBR|")]
    (message,) = decoded(Hl7MllpCodec(CTX).feed(wrap(whole_segments.encode())))
    assert message.patient is not None and message.patient.family_name == "Quarterfield"


def test_unknown_units_and_codes_are_reported_as_unmapped() -> None:
    msg = (
        "MSH|^~\\&|M||||20261105||ORU^R01|U1|P|2.6\r"
        "OBX|1|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.1.1.1|97|999999^MDC_DIM_NOPE^MDC\r"
        "OBX|2|NM|tt-5^InsOxy^WelchAllyn|1.1.1.2|28|262688^MDC_DIM_PERCENT^MDC\r"
        "OBX|3|NM|149530^MDC_PULS_OXIM_PULS_RATE^MDC|1.1.1.3|60|264864^MDC_DIM_BEAT_PER_MIN^MDC\r"
    )
    events = Hl7MllpCodec(CTX).feed(wrap(msg.encode()))
    unmapped = [e for e in events if isinstance(e, UnmappedMetric)]
    assert sorted(u.key for u in unmapped) == ["999999^MDC_DIM_NOPE^MDC", "tt-5"]
    (message,) = decoded(events)
    assert [o.metric.mdc_code for o in message.observations] == [149530]
    assert msa(acks(events)[0])[1] == "AA"


def test_profile_metric_map_maps_vendor_codes() -> None:
    ctx = DecodeContext(
        device_id="d1", now=lambda: NOW, metric_map={"tt-5": (151562, "MDC_RESP_RATE", "/min")}
    )
    msg = "MSH|^~\\&|M||||20261105||ORU^R01|U1|P|2.6\rOBX|1|NM|tt-5^RR^Vendor||18|\r"
    (message,) = decoded(Hl7MllpCodec(ctx).feed(wrap(msg.encode())))
    (obs,) = message.observations
    assert (obs.metric.mdc_code, obs.unit, obs.value) == (151562, "/min", 18.0)


@pytest.mark.parametrize(
    ("status", "value", "quality"),
    [
        ("F", 97.0, Quality.VALID),
        ("P", 97.0, Quality.QUESTIONABLE),
        ("X", None, Quality.UNAVAILABLE),
        ("W", 97.0, Quality.INVALID),
    ],
)
def test_obx11_status_maps_to_quality(status: str, value: float | None, quality: Quality) -> None:
    msg = (
        "MSH|^~\\&|M||||20261105||ORU^R01|S1|P|2.6\r"
        f"OBX|1|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.1.1.1|97|262688^MDC_DIM_PERCENT^MDC|||||{status}\r"
    )
    (message,) = decoded(Hl7MllpCodec(CTX).feed(wrap(msg.encode())))
    assert message.observations[0].value == value
    assert message.observations[0].quality is quality


def test_mllp_resynchronises_and_handles_split_and_batched_blocks() -> None:
    codec = Hl7MllpCodec(CTX)
    block = wrap(ORU.encode())
    # noise, a block cut short by a new start block, then two blocks in one chunk
    events = codec.feed(b"\x00noise" + block[:40] + block + block[:17])
    events += codec.feed(block[17:] + block)
    assert len(decoded(events)) == 3
    assert [msa(a)[1] for a in acks(events)] == ["AA", "AA", "AA"]
    reasons = [e.reason for e in events if isinstance(e, FrameError)]
    assert any("outside an MLLP block" in r for r in reasons)
    assert any("cut short" in r for r in reasons)


def test_lf_segment_separators_are_tolerated() -> None:
    text = ORU.replace("\r", "\n")
    (message,) = decoded(Hl7MllpCodec(CTX).feed(wrap(text.encode())))
    assert len(message.observations) == 4


def test_framer_bounds_an_endless_block() -> None:
    framer = MllpFramer(max_message=100)
    out = framer.feed(b"\x0b" + b"A" * 150)
    assert out and out[-1].reason == "MLLP block too long"
    assert framer.feed(wrap(b"MSH|ok"))[-1].message == b"MSH|ok"


def test_read_msh_works_without_the_parser() -> None:
    msh = read_msh("MSH|^~\\&|APP|FAC|GW|WARD|2026||ORU^R01^ORU_R01|ID-1|T|2.6\rgarbage")
    assert msh is not None
    assert (msh.message_type, msh.trigger_event, msh.control_id) == ("ORU", "R01", "ID-1")
    assert (msh.processing_id, msh.version) == ("T", "2.6")
    assert read_msh("PID|1") is None


@pytest.mark.parametrize(
    ("code", "ucum"),
    [
        (262688, "%"),
        (264864, "/min"),
        (264928, "/min"),
        (266016, "mm[Hg]"),
        (265987, "kPa"),
        (268192, "Cel"),
        (266560, "[degF]"),
        (263875, "kg"),
        (263904, "[lb_av]"),
        (264274, "mg/dL"),
        (266866, "mmol/L"),
        (263441, "cm"),
        (264096, "kg/m2"),
        (264320, "s"),
    ],
)
def test_mdc_dimension_codes_map_to_ucum(code: int, ucum: str) -> None:
    assert ucum_for_mdc(code, None) == ucum


def test_mdc_units_by_name_and_free_text_units() -> None:
    assert ucum_for_mdc(None, "MDC_DIM_MMHG") == "mm[Hg]"
    assert ucum_for_mdc(1, "mdc_dim_percent") == "%"
    assert ucum_for_mdc(1, None) is None
    assert ucum_for_text("mg/dl") == "mg/dL"
    assert ucum_for_text(" MMOL/L ") == "mmol/L"
    assert ucum_for_text("furlongs") is None
