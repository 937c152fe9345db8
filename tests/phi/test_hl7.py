"""HL7 v2: real parsing, per-field policy, OBX values kept, free text scrubbed."""

from __future__ import annotations

import hl7
import pytest

from wardlink.phi import RedactionPolicy

MESSAGE = "\r".join(
    [
        "MSH|^~\\&|MONITOR|Mercy General|WARDLINK|WL|20261103142205||ORU^R01^ORU_R01|MSG0042|P|2.6",
        "PID|1||0012345^^^HOSP^MR~999^^^SSA^SS||ZORBLAX^QUINN^A||19620704|F|||"
        "12 Elm St^^Springfield^IL^62704^USA||(555)123-4567|||||ACC778812|123-45-6789",
        "NK1|1|ZORBLAX^ADA|SPO^Spouse^HL70063|12 Elm St^^Springfield^IL^62704|555-987-6543",
        "PV1|1|I|ICU^412^B||||123456^Hope^Will^^^Dr|||MED||||||||V0099812"
        + "|" * 25
        + "202611011200",
        "IN1|1|PLAN42|ACME Insurance|Quinn Zorblax",
        "OBR|1|P123|F456|182777000^monitoring of patient^SNOMED-CT|||20261103142205",
        "OBX|1|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.1.1.1|97|262688^MDC_DIM_PERCENT^MDC|||||R"
        "|||20261103142205||||0012AB34CD56EF78^EUI-64",
        "OBX|2|ST|531969^MDC_ID_MODEL_NUMBER^MDC|1.0.0.0|Philips IntelliVue MX450||||||R",
        "OBX|3|TX|8867-4^Comment^LN||Quinn Zorblax asked Dr. Hope about the alarm||||||F",
        "OBX|4|ED|1^Photo||^image^jpeg^Base64^AAAA||||||F",
        "NTE|1|L|ada (wife) will call back at 555-987-6543",
    ]
)


@pytest.fixture(scope="module")
def redacted() -> str:
    result = RedactionPolicy.default().redact_hl7(MESSAGE)
    assert result.ok, result.error
    assert isinstance(result.output, str)
    return result.output


def _segment(message: str, segment_id: str, index: int = 0) -> hl7.Segment:
    return hl7.parse(message).segments(segment_id)[index]


def test_output_is_valid_hl7_without_identifiers(redacted: str) -> None:
    for value in ("ZORBLAX", "Zorblax", "QUINN", "Quinn", "ADA", "ada", "0012345", "Elm",
                  "Springfield", "555-987-6543", "123-4567", "123-45-6789", "ACC778812",
                  "V0099812", "Mercy", "0012AB34CD56EF78", "Hope", "Will", "ACME"):  # fmt: skip
        assert value not in redacted, value
    assert [str(s[0]) for s in hl7.parse(redacted)] == [
        "MSH", "PID", "NK1", "PV1", "OBR", "OBX", "OBX", "OBX", "OBX", "NTE",
    ]  # fmt: skip


def test_pid_keeps_only_safe_generalised_fields(redacted: str) -> None:
    pid = _segment(redacted, "PID")
    assert str(pid[7]) == "1962"  # birth date: year only
    assert str(pid[8]) == "F"
    assert str(pid[11]) == "^^^IL^627^USA"  # state, ZIP3, country
    assert str(pid[3]) == "" and str(pid[5]) == ""


def test_obx_codes_values_and_units_survive(redacted: str) -> None:
    obx = _segment(redacted, "OBX")
    assert str(obx[3]) == "150456^MDC_PULS_OXIM_SAT_O2^MDC"
    assert str(obx[5]) == "97"
    assert str(obx[6]) == "262688^MDC_DIM_PERCENT^MDC"
    assert str(obx[14]) == "20261103142205"
    assert len(obx) < 19 or str(obx[18]) == ""  # equipment instance id: dropped
    assert str(_segment(redacted, "OBX", 1)[5]) == "Philips IntelliVue MX450"
    assert "about the alarm" in str(_segment(redacted, "OBX", 2)[5])
    assert str(_segment(redacted, "OBX", 3)[5]) == ""  # encapsulated data never passes
    assert "call back" in str(_segment(redacted, "NTE")[3])  # "will": the doctor is Will Hope


def test_msh_facilities_follow_the_policy(redacted: str) -> None:
    msh = _segment(redacted, "MSH")
    assert str(msh[3]) == "MONITOR" and str(msh[4]) == "" and str(msh[10]) == "MSG0042"
    kept = RedactionPolicy.from_config({"identifiers": {"facility": "keep"}}).redact_hl7(MESSAGE)
    assert "Mercy General" in str(kept.output)


def test_mllp_framing_and_newlines_are_accepted() -> None:
    framed = "\x0b" + MESSAGE.replace("\r", "\n") + "\x1c\r"
    result = RedactionPolicy.default().redact_hl7(framed.encode())
    assert result.ok and "ZORBLAX" not in str(result.output)


@pytest.mark.parametrize(
    "bad",
    ["", "PID|1||123", "MSH", "MSHX^~\\&|A", "hello world", 42, "MSH|^~\\&\rPID|1"[:6]],
)
def test_malformed_hl7_is_an_error(bad: object) -> None:
    result = RedactionPolicy.default().redact_hl7(bad)
    assert not result.ok and result.output is None
